"""What the Python tests share: AWS's documented examples (tests/fixtures/aws/, each file naming
its page in `_source`) and a fake SSM `get_parameter` whose answers are copies of the documented
GetParameter output with only the name and value changed."""
import copy
import json
import pathlib

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "aws"


def documented(path):
    """The `response` of the documented example `path` (`ssm/GetParameter`)."""
    return json.loads((FIXTURES / (path + ".json")).read_text())["response"]


class NotFound(Exception):
    pass


class FakeSsm:
    """get_parameter over name -> value; a missing name raises ParameterNotFound, as boto3 does."""

    class exceptions:
        ParameterNotFound = NotFound

    def __init__(self, values):
        self.values = values

    def get_parameter(self, Name):
        if Name not in self.values:
            raise NotFound(Name)
        out = copy.deepcopy(documented("ssm/GetParameter"))
        out["Parameter"].update(Name=Name, Value=self.values[Name])
        return out

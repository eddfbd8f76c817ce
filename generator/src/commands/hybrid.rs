//! `patchplane hybrid activate`: a hybrid activation for the on-premises nodes of one site
//! (`hybrid.sites`), with the service role the member StackSet creates (`<policy>-hybrid-nodes`)
//! and the tags that put every node it registers into the site's patch group, and the commands
//! that install and register SSM Agent on Linux and Windows.
//!
//! The activation code is a credential until the activation expires: it is written only where the
//! user asks (`--code-file`, created for the user alone, never over an existing file, or
//! `--print-code`), never logged, and the printed commands read it from a shell variable.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::ssm::{NewActivation, Ssm};

use super::{CommandError, Exit, load, sdk_config};
use crate::model::{SITE_TAG, hybrid_role_name, site_patch_group};
use crate::policy::Policy;

/// Arguments of `patchplane hybrid`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Hybrid,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum Hybrid {
    /// Create a hybrid activation for a site's nodes and print how to register them.
    Activate(ActivateArgs),
}

/// Arguments of `patchplane hybrid activate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ActivateArgs {
    /// The policy.
    pub policy: PathBuf,
    /// The site (`hybrid.sites`) the nodes are in.
    #[arg(long)]
    pub site: String,
    /// How many nodes may register with it (1 to 1000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub count: u32,
    /// Hours until it expires (AWS allows at most 30 days, 720 hours).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub expires_in_hours: u32,
    /// The baseline its nodes run; needed when the site runs several.
    #[arg(long)]
    pub baseline: Option<String>,
    /// The ring its nodes join; needed when the policy has several.
    #[arg(long)]
    pub ring: Option<String>,
    /// Region the nodes register in (default: the environment's).
    #[arg(long)]
    pub region: Option<String>,
    /// Write the activation code to this new file, readable by you only.
    #[arg(long, required_unless_present = "print_code")]
    pub code_file: Option<PathBuf>,
    /// Print the activation code (it is a credential until it expires).
    #[arg(long)]
    pub print_code: bool,
    /// AWS endpoint (tests, private endpoints).
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// Why an activation cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum HybridError {
    /// A choice the command line must make or got wrong.
    #[error("{0}")]
    Usage(String),
    /// The code file exists, or cannot be written.
    #[error("{}: {why}", path.display())]
    CodeFile {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Systems Manager refused or failed.
    #[error("CreateActivation in {region}: {why}")]
    Aws {
        /// The region.
        region: String,
        /// Why, one line.
        why: String,
    },
}

/// What an activation for `args` asks Systems Manager for, from the policy alone.
pub fn activation(p: &Policy, args: &ActivateArgs, now_epoch: i64) -> Result<NewActivation, HybridError> {
    let Some(site) = p.hybrid.sites.get(&args.site) else {
        let known: Vec<&str> = p.hybrid.sites.keys().map(String::as_str).collect();
        return Err(HybridError::Usage(format!(
            "--site {}: the policy's hybrid.sites are {}",
            args.site,
            if known.is_empty() {
                "empty".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let runs: Vec<&crate::policy::Baseline> = p.baselines.iter().filter(|b| site.runs(&b.name)).collect();
    let baseline = match &args.baseline {
        Some(name) => runs.iter().find(|b| &b.name == name).copied().ok_or_else(|| {
            HybridError::Usage(format!(
                "--baseline {name}: site {} runs {}",
                args.site,
                names(runs.iter().map(|b| b.name.as_str()))
            ))
        })?,
        None if runs.len() == 1 => runs[0],
        None => {
            return Err(HybridError::Usage(format!(
                "site {} runs several baselines: pass --baseline ({})",
                args.site,
                names(runs.iter().map(|b| b.name.as_str()))
            )));
        }
    };
    let ring = match &args.ring {
        Some(r) if p.rings.iter().any(|x| &x.name == r) => r.clone(),
        Some(r) => {
            return Err(HybridError::Usage(format!(
                "--ring {r}: the policy's rings are {}",
                names(p.rings.iter().map(|r| r.name.as_str()))
            )));
        }
        None if p.rings.len() == 1 => p.rings[0].name.clone(),
        None => {
            return Err(HybridError::Usage(format!(
                "the policy has several rings: pass --ring ({})",
                names(p.rings.iter().map(|r| r.name.as_str()))
            )));
        }
    };
    let group = site_patch_group(&baseline.group_prefix, &args.site, &ring);
    Ok(NewActivation {
        description: format!(
            "patchplane {}: site {} ring {ring} ({})",
            p.name, args.site, baseline.name
        ),
        default_instance_name: format!("{}-{}", args.site, baseline.group_prefix),
        iam_role: hybrid_role_name(&p.name),
        registration_limit: args.count,
        expires_epoch: now_epoch + i64::from(args.expires_in_hours) * 3600,
        tags: vec![
            (p.patch_group_tag.clone(), group),
            (SITE_TAG.to_owned(), args.site.clone()),
        ],
    })
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// The commands that install SSM Agent and register a node with activation `id` in `region`,
/// as AWS documents them (`ssm-setup-cli`, downloaded from the activation's region), reading the
/// code from `$ACTIVATION_CODE`.
pub fn install_commands(id: &str, region: &str) -> String {
    format!(
        "Linux (RPM-based; on Debian and Ubuntu use latest/debian_amd64), as root:
  # https://docs.aws.amazon.com/systems-manager/latest/userguide/hybrid-multicloud-ssm-agent-install-linux.html
  mkdir -p /tmp/ssm
  curl https://amazon-ssm-{region}.s3.{region}.amazonaws.com/latest/linux_amd64/ssm-setup-cli -o /tmp/ssm/ssm-setup-cli
  chmod +x /tmp/ssm/ssm-setup-cli
  /tmp/ssm/ssm-setup-cli -register -activation-code \"$ACTIVATION_CODE\" -activation-id \"{id}\" -region \"{region}\"

Windows Server (64-bit), in PowerShell as Administrator:
  # https://docs.aws.amazon.com/systems-manager/latest/userguide/hybrid-multicloud-ssm-agent-install-windows.html
  [System.Net.ServicePointManager]::SecurityProtocol = 'TLS12'
  $code = $env:ACTIVATION_CODE
  $id = \"{id}\"
  $region = \"{region}\"
  $dir = $env:TEMP + \"\\ssm\"
  New-Item -ItemType directory -Path $dir -Force
  cd $dir
  (New-Object System.Net.WebClient).DownloadFile(\"https://amazon-ssm-$region.s3.$region.amazonaws.com/latest/windows_amd64/ssm-setup-cli.exe\", $dir + \"\\ssm-setup-cli.exe\")
  ./ssm-setup-cli.exe -register -activation-code=\"$code\" -activation-id=\"$id\" -region=\"$region\"
"
    )
}

impl Args {
    /// Runs `patchplane hybrid …`.
    pub fn run(&self) -> Result<Exit, CommandError> {
        match &self.command {
            Hybrid::Activate(a) => a.run(),
        }
    }
}

impl ActivateArgs {
    fn run(&self) -> Result<Exit, CommandError> {
        let loaded = load(&self.policy)?;
        let now = jiff::Timestamp::now().as_second();
        let wanted = activation(&loaded.policy, self, now)?;
        // Refuse an existing code file before anything is created in AWS.
        let mut file = self.code_file.as_deref().map(create_private).transpose()?;
        let runtime = tokio::runtime::Runtime::new().map_err(|e| HybridError::Usage(format!("tokio: {e}")))?;
        let activation = runtime.block_on(async {
            let conf = sdk_config(self.endpoint_url.clone()).await;
            let region = self
                .region
                .clone()
                .or_else(|| conf.region().map(ToString::to_string))
                .ok_or_else(|| HybridError::Usage("no region: pass --region or set AWS_REGION".into()))?;
            let provider = conf.credentials_provider().ok_or_else(|| HybridError::Aws {
                region: region.clone(),
                why: "no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)".into(),
            })?;
            let retry = RetryPolicy {
                attempts: 3,
                base: std::time::Duration::from_millis(200),
                cap: std::time::Duration::from_secs(5),
            };
            let aws = |why: String| HybridError::Aws {
                region: region.clone(),
                why,
            };
            let ssm = Ssm::new(conf.endpoint_url(), &region, provider, retry).map_err(|f| aws(f.to_string()))?;
            let made = ssm.create_activation(&wanted).await.map_err(|f| aws(f.to_string()))?;
            Ok::<_, HybridError>((made, region))
        });
        let (activation, region) = match activation {
            Ok(a) => a,
            Err(e) => {
                // Nothing was created: the empty code file goes too.
                if let Some(path) = &self.code_file {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e.into());
            }
        };
        if let (Some(f), Some(path)) = (file.as_mut(), &self.code_file) {
            f.write_all(activation.code.as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .map_err(|e| HybridError::CodeFile {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
        }
        let tags: Vec<String> = wanted.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "Activation {} in {region}: up to {} node(s), for {} hour(s); service role {}; every node it registers gets the tags {}.",
            activation.id,
            wanted.registration_limit,
            self.expires_in_hours,
            wanted.iam_role,
            tags.join(", ")
        );
        match &self.code_file {
            Some(path) => println!(
                "The activation code is in {} (readable by you only). On each node, set ACTIVATION_CODE to it first.\n",
                path.display()
            ),
            None => println!("ACTIVATION_CODE={}\n", activation.code),
        }
        print!("{}", install_commands(&activation.id, &region));
        Ok(Exit::Success)
    }
}

/// A new file only its owner can read (mode 0600 on Unix); never over an existing one.
fn create_private(path: &Path) -> Result<std::fs::File, HybridError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path).map_err(|e| HybridError::CodeFile {
        path: path.to_path_buf(),
        why: if e.kind() == std::io::ErrorKind::AlreadyExists {
            "exists; the code is never written over a file (choose a new path)".into()
        } else {
            e.to_string()
        },
    })
}

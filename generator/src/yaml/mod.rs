//! YAML for the templates: [`quote`], the escape function every `{{value}}` goes through; [`read`],
//! the read-back of a rendered template; [`canonical`], what is written.
//!
//! [`read`] gives a [`Node`] tree, fast for the plain shape the templates produce, through
//! serde_yaml for anything else (ADR 018). One file each: `escape.rs` ([`quote`]), `reader.rs`
//! ([`read`], [`parse`], the one-pass reader of the subset and why it exists), `writer.rs`
//! ([`canonical`]). [`Node`], the tree they share, is here.

mod escape;
mod reader;
mod writer;

use std::borrow::Cow;

pub use escape::quote;
pub use reader::{parse, parse_or_stop, read};
pub use writer::canonical;

/// A YAML value as read back: serde_yaml's data model, with strings borrowed from the text where
/// they can be and mappings as ordered pairs (the emitter needs no lookups).
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_yaml writes it.
    Number(Cow<'a, str>),
    /// A string.
    Str(Cow<'a, str>),
    /// A sequence.
    Seq(Vec<Node<'a>>),
    /// A mapping, in text order, keys distinct.
    Map(Vec<(Node<'a>, Node<'a>)>),
    /// A tagged value (`!Ref x`): never in a rendered template; kept to be refused by name.
    Tagged(String),
}

impl From<serde_yaml::Value> for Node<'static> {
    fn from(v: serde_yaml::Value) -> Self {
        use serde_yaml::Value as Y;
        match v {
            Y::Null => Node::Null,
            Y::Bool(b) => Node::Bool(b),
            Y::Number(n) => Node::Number(Cow::Owned(n.to_string())),
            Y::String(s) => Node::Str(Cow::Owned(s)),
            Y::Sequence(s) => Node::Seq(s.into_iter().map(Node::from).collect()),
            Y::Mapping(m) => Node::Map(m.into_iter().map(|(k, v)| (Node::from(k), Node::from(v))).collect()),
            Y::Tagged(t) => Node::Tagged(t.tag.to_string()),
        }
    }
}

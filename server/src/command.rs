use bytes::Bytes;
use std::fmt;

/// One request: a command name and its arguments, as binary-safe byte strings.
///
/// Every framing decodes to this, so the service never knows how a request was framed.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Command {
    /// The name (first element) and the arguments, in order. Never empty once decoded.
    pub args: Vec<Bytes>,
}

impl Command {
    /// A command from its parts, e.g. `Command::new(["SET", "k", "v"])`.
    pub fn new<I, A>(args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<Bytes>,
    {
        Command {
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// The command name, upper-cased for matching (`b"set"` → `"SET"`).
    pub fn name(&self) -> String {
        self.args
            .first()
            .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
            .unwrap_or_default()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.args.iter().map(|a| a.escape_ascii().to_string()))
            .finish()
    }
}

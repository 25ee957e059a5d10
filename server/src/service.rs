use crate::{Command, Reply};

/// What the server does with each decoded request.
///
/// `call` is synchronous and must not block: it runs on the connection's task between a
/// decoded batch and its write. Shared across connections, so state lives behind `&self`.
pub trait Service: Send + Sync + 'static {
    /// Answers one command.
    fn call(&self, cmd: Command) -> Response;
}

/// A boxed service (one chosen at run time) serves as the service in it.
impl<S: Service + ?Sized> Service for Box<S> {
    fn call(&self, cmd: Command) -> Response {
        (**self).call(cmd)
    }
}

/// A reply and whether the connection ends after it is written (e.g. `QUIT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The reply to send.
    pub reply: Reply,
    /// Close the connection once this reply (and those before it) are written.
    pub close: bool,
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Self {
        Response {
            reply,
            close: false,
        }
    }
}

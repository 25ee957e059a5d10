//! A store that tells the harness each command it runs, where it runs it: the white-box
//! check's instrument ([`framesim::harness::ran`]).

use bytes::BytesMut;
use framesim_server::protocol::{encode_command, Framing, ReplyEncoder};
use framesim_server::{Command, Reply, Response, Service};

/// `service`, telling each command and its reply as the store runs it.
pub struct Told<S>(pub S);

impl<S: Service> Service for Told<S> {
    fn call(&self, cmd: Command) -> Response {
        let request = resp_command(&cmd);
        let response = self.0.call(cmd);
        tell(&request, &response.reply);
        response
    }
}

/// `cmd` as a client sends it in RESP.
pub fn resp_command(cmd: &Command) -> BytesMut {
    let mut request = BytesMut::new();
    encode_command(&Framing::Resp, cmd, &mut request).expect("a command encodes in RESP");
    request
}

/// Tells the harness the server ran `request` and answered `reply`.
pub fn tell(request: &[u8], reply: &Reply) {
    let mut bytes = BytesMut::new();
    ReplyEncoder::new(&Framing::Resp).encode(reply, &mut bytes);
    framesim::harness::ran(request, &bytes);
}

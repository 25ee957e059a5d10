//! The round-trip target: encode a command and a reply in every framing, decode them back.

use crate::grammar::{Header, RoundtripInput};
use bytes::BytesMut;
use framesim_server::framing::Decoder;
use framesim_server::protocol::{self, resp, Framing, ReplyEncoder};
use framesim_server::{Command, Limits, Reply};

/// For each framing (RESP, line, length): `encode_command` then the server's request
/// decoder gives the command back, and `encode_reply` then the client's reply decoder gives
/// the reply back; nothing is left over and the end of the stream is clean. (A length header
/// too small for the command is an encoding error; for the reply, the documented error reply.)
pub fn roundtrip(input: RoundtripInput) {
    let framings = [
        Framing::Resp,
        Framing::Line {
            delimiter: input.delimiter.bytes(),
        },
        Framing::Length {
            header_len: input.header.size(),
            endian: input.header.endian(),
        },
    ];
    let limits = Limits {
        max_line: 1 << 20,
        max_frame: 1 << 20,
        ..Limits::default()
    };
    for framing in framings.iter().filter(|f| f.validate().is_ok()) {
        let cmd = &input.command.0;
        let mut buf = BytesMut::new();
        match protocol::encode_command(framing, cmd, &mut buf) {
            Ok(()) => {
                let mut dec = protocol::RequestDecoder::new(framing, &limits);
                let got = dec.decode(&mut buf);
                assert_eq!(got, Ok(Some(cmd.clone())), "{framing:?}: command");
                assert_eq!(dec.decode_eof(&mut buf), Ok(None), "{framing:?}: leftovers");
            }
            Err(e) => {
                let fits = 1u128 << (8 * input.header.size());
                let longest = cmd.args.iter().map(|a| a.len()).max().unwrap_or(0);
                assert!(
                    matches!(framing, Framing::Length { .. })
                        && (longest as u128 >= fits || cmd_payload(cmd, &input.header) >= fits),
                    "{framing:?}: encode_command failed for a command that fits: {e}"
                );
            }
        }

        let reply = &input.reply.0;
        let mut buf = BytesMut::new();
        ReplyEncoder::new(framing).encode(reply, &mut buf);
        let want = match framing {
            Framing::Length { header_len, .. }
                if resp_len(reply) as u128 >= 1 << (8 * header_len) =>
            {
                Reply::error("ERR reply too long for the frame header")
            }
            _ => reply.clone(),
        };
        let mut dec = protocol::ReplyDecoder::new(framing, 1 << 20);
        assert_eq!(dec.decode(&mut buf), Ok(Some(want)), "{framing:?}: reply");
        assert_eq!(dec.decode_eof(&mut buf), Ok(None), "{framing:?}: leftovers");
    }
}

/// Payload size of a length-framed command: each argument with its own header.
fn cmd_payload(cmd: &Command, header: &Header) -> u128 {
    cmd.args
        .iter()
        .map(|a| (header.size() + a.len()) as u128)
        .sum()
}

fn resp_len(reply: &Reply) -> usize {
    let mut buf = BytesMut::new();
    resp::encode_reply(reply, &mut buf);
    buf.len()
}

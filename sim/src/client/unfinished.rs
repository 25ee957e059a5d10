//! A client that makes the server hold arguments: one request of small arguments that never
//! ends, twice `max_buffered` long. In RESP the server parses each argument out of its
//! buffer as it completes, so only a limit that counts the parsed arguments stops it.

use super::{Client, Lost, REPLY_TIMEOUT};
use crate::model::satisfies;
use crate::oracle::Oracle;
use crate::transcript::{Event, Expected};
use bytes::{Bytes, BytesMut};
use framesim_server::protocol::{encode_command, Framing};
use framesim_server::Command;
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

/// Largest write: the request goes out in a few segments, not one per argument.
const WRITE: usize = 4096;

impl Client {
    /// Sends the unfinished request; expects a protocol error, then a close.
    pub(super) async fn unfinished_args(&mut self) {
        let limits = self.scenario().limits;
        let bytes: Vec<u8> = match self.scenario().framing.clone() {
            Framing::Resp => {
                // One-byte arguments (7 bytes each on the wire), announced one more than sent.
                let args = 2 * limits.max_buffered / 7 + 2;
                let mut b = format!("*{}\r\n", args + 1).into_bytes();
                for _ in 0..args {
                    b.extend_from_slice(b"$1\r\na\r\n");
                }
                b
            }
            // Lines and length frames keep a request whole in the buffer: the nearest thing
            // is a request of small arguments past the frame limit, its last byte held back.
            framing => {
                let limit = match framing {
                    Framing::Line { .. } => limits.max_line,
                    _ => limits.max_frame,
                };
                let args = std::iter::once(Bytes::from_static(b"SET"))
                    .chain(std::iter::repeat_n(Bytes::from_static(b"a"), limit / 2 + 1));
                let mut b = BytesMut::new();
                if encode_command(&framing, &Command::new(args), &mut b).is_err() {
                    self.record(Event::Note {
                        text: "no unfinished request fits this length header".into(),
                    });
                    return;
                }
                b.truncate(b.len() - 1);
                b.to_vec()
            }
        };
        self.record(Event::Note {
            text: format!("sends an unfinished request of {} bytes", bytes.len()),
        });
        for part in bytes.chunks(WRITE) {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            // The server may stop reading once it has answered with an error.
            if !matches!(
                timeout(REPLY_TIMEOUT, stream.write_all(part)).await,
                Ok(Ok(()))
            ) {
                break;
            }
            self.record(Event::Write {
                bytes: Bytes::copy_from_slice(part),
            });
        }
        let expect = Expected::ErrorPrefix("ERR Protocol error".into());
        match self.reply().await {
            Ok(reply) if satisfies(&reply, &expect) => {
                self.expect_close(Oracle::ProtocolError, REPLY_TIMEOUT)
                    .await
            }
            Err(Lost::Closed(why)) if self.scenario().restart_at.is_some() => {
                self.record(Event::Closed { why })
            }
            other => self.fail(
                Oracle::ProtocolError,
                format!("expected a protocol error reply, got {other:?}"),
            ),
        }
    }
}

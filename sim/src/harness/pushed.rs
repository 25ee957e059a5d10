//! Frames a server sends of its own accord (a chat line from another client, a published
//! message, a notification): a client takes them out of its replies wherever it reads,
//! each checked by its session ([`Session::pushed`](super::Session::pushed)).

use super::client::{cut, Client};
use crate::oracle::Oracle;
use crate::transcript::Event;
use bytes::{Bytes, BytesMut};

impl Client {
    /// The next reply frame in `buf` (`None` until one is whole), every frame the session
    /// takes for a push before it taken out and judged (`[reply]` if its check fails).
    pub(super) fn next_frame(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Bytes>, (Oracle, String)> {
        loop {
            let frame = match self.framer.next_frame(buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(None),
                Err(e) => return Err((Oracle::Framing, format!("unreadable reply: {e}"))),
            };
            let Some(check) = self.session.pushed(&frame) else {
                return Ok(Some(frame));
            };
            self.pushes += 1;
            self.shared.tally(|t| t.pushed += 1);
            self.record(Event::Note {
                text: format!("pushed {}", cut(&frame)),
            });
            check.map_err(|e| {
                (
                    Oracle::Reply,
                    format!("a frame the server pushed, {}: {e}", cut(&frame)),
                )
            })?;
        }
    }

    /// What `buf` holds beyond the frames the server pushed, after the last reply: `None`
    /// when nothing (or, once the server has pushed a frame, the start of another), else
    /// the bytes, a frame that is no push first.
    pub(super) fn beyond_pushed(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Bytes>, (Oracle, String)> {
        if buf.is_empty() {
            return Ok(None);
        }
        let frame = match self.next_frame(buf) {
            Ok(Some(frame)) => frame,
            Ok(None) if buf.is_empty() || self.pushes > 0 => return Ok(None),
            Ok(None) | Err((Oracle::Framing, _)) => return Ok(Some(buf.split().freeze())),
            Err(pushed) => return Err(pushed),
        };
        let mut all = BytesMut::from(&frame[..]);
        all.extend_from_slice(&buf.split());
        Ok(Some(all.freeze()))
    }
}

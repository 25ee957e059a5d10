//! Frames a server sends of its own accord (a chat line from another client, a published
//! message, a notification): a client takes them out of its replies wherever it reads,
//! each checked by its session ([`Session::pushed`](super::Session::pushed)).

use super::client::{cut, Client, CLOSE_AFTER_ANSWER};
use crate::oracle::Oracle;
use crate::transcript::Event;
use crate::window::ClientStream;
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

/// Why no reply frame came out of a client's buffer.
pub(super) enum Unframed {
    /// The framer cannot cut what came: its words.
    Unreadable(String),
    /// A frame the server pushed failed the session's check: the `[reply]` it makes.
    Pushed((Oracle, String)),
}

impl Client {
    /// The next reply frame in `buf`, as [`frame`](Self::frame) gives it: what cannot be
    /// cut is `[framing]`.
    pub(super) fn next_frame(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Bytes>, (Oracle, String)> {
        self.frame(buf).map_err(|unframed| match unframed {
            Unframed::Unreadable(e) => (Oracle::Framing, format!("unreadable reply: {e}")),
            Unframed::Pushed(violation) => violation,
        })
    }

    /// The next reply frame in `buf` (`None` until one is whole), every frame the session
    /// takes for a push before it taken out and judged.
    pub(super) fn frame(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Unframed> {
        loop {
            let frame = match self.framer.next_frame(buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(None),
                Err(e) => return Err(Unframed::Unreadable(e)),
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
                Unframed::Pushed((
                    Oracle::Reply,
                    format!("a frame the server pushed, {}: {e}", cut(&frame)),
                ))
            })?;
        }
    }

    /// What `buf` holds beyond the frames the server pushed, after the last reply: `None`
    /// when nothing, or only the start of a frame while the connection is `open` (more may
    /// come) or once the server has pushed one; else the bytes, a frame that is no push
    /// first.
    pub(super) fn beyond_pushed(
        &mut self,
        buf: &mut BytesMut,
        open: bool,
    ) -> Result<Option<Bytes>, (Oracle, String)> {
        if buf.is_empty() {
            return Ok(None);
        }
        let frame = match self.frame(buf) {
            Ok(Some(frame)) => frame,
            Ok(None) if buf.is_empty() || open || self.pushes > 0 => return Ok(None),
            Ok(None) | Err(Unframed::Unreadable(_)) => return Ok(Some(buf.split().freeze())),
            Err(Unframed::Pushed(violation)) => return Err(violation),
        };
        let mut all = BytesMut::from(&frame[..]);
        all.extend_from_slice(&buf.split());
        Ok(Some(all.freeze()))
    }

    /// [`beyond_pushed`](Self::beyond_pushed) at a client's end: the start of a frame left
    /// in `buf` is read to its end first (up to 100 ms a read), so a push cut by a short
    /// write is taken whole.
    pub(super) async fn beyond_pushed_at_end(
        &mut self,
        stream: &mut ClientStream,
        buf: &mut BytesMut,
    ) -> Result<Option<Bytes>, (Oracle, String)> {
        for _ in 0..8 {
            if let Some(more) = self.beyond_pushed(buf, true)? {
                return Ok(Some(more));
            }
            if buf.is_empty() {
                return Ok(None);
            }
            match timeout(CLOSE_AFTER_ANSWER, stream.read_buf(buf)).await {
                Ok(Ok(1..)) => {}
                _ => break,
            }
        }
        self.beyond_pushed(buf, false)
    }
}

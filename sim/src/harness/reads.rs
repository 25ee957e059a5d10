//! Where the server's reads of well-behaved requests end: inside a request, next to one of
//! its seams (a delimiter's or a header's edge), or past a request's end with the next
//! one's bytes: the situations a framing bug needs, counted for a sweep's coverage.

use std::collections::VecDeque;
use std::ops::Range;

/// The well-behaved requests sent on one connection, as offsets in what it carried.
#[derive(Default)]
pub(super) struct Sent {
    /// Each request's bytes, in order.
    spans: VecDeque<Range<u64>>,
    /// Their seams, in order.
    seams: VecDeque<u64>,
}

/// How the server's reads of well-behaved requests ended, counted over a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReadEnds {
    /// Reads that ended inside a request.
    pub(super) inside: u64,
    /// Reads that ended inside a request within a byte of one of its seams.
    pub(super) at_seam: u64,
    /// Reads that took the end of a request and bytes of the next.
    pub(super) across: u64,
}

impl Sent {
    /// A request whose bytes are `span`, with seams at `seams`, was sent.
    pub(super) fn request(&mut self, span: Range<u64>, seams: impl IntoIterator<Item = u64>) {
        self.spans.push_back(span);
        self.seams.extend(seams);
    }

    /// The server read the bytes `read` of the connection: how that read ended, added to
    /// `ends`.
    pub(super) fn read(&mut self, read: Range<u64>, ends: &mut ReadEnds) {
        while self.spans.front().is_some_and(|s| s.end <= read.start) {
            self.spans.pop_front();
        }
        while self.seams.front().is_some_and(|&s| s + 1 < read.start) {
            self.seams.pop_front();
        }
        let to = read.end;
        let begun = || self.spans.iter().take_while(|s| s.start < to);
        if begun().any(|s| s.end > read.start && s.end < to) {
            ends.across += 1;
        }
        if begun().any(|s| s.start < to && to < s.end) {
            ends.inside += 1;
            if self
                .seams
                .iter()
                .take_while(|&&s| s <= to + 1)
                .any(|&s| s + 1 >= to)
            {
                ends.at_seam += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_read_end_is_placed() {
        let mut sent = Sent::default();
        sent.request(0..10, [4, 5]);
        sent.request(10..20, [14]);
        let mut ends = ReadEnds::default();
        sent.read(0..3, &mut ends); // inside, a byte from the seam at 4
        sent.read(3..8, &mut ends); // inside, far from a seam
        sent.read(8..12, &mut ends); // across, and inside the second
        sent.read(12..20, &mut ends); // at the end: neither
        assert_eq!(
            ends,
            ReadEnds {
                inside: 3,
                at_seam: 1,
                across: 1
            }
        );
    }
}

//! Framing decoders against chunked input: every way of splitting a stream must give the
//! same frames and the same final error as feeding it whole.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use framesim_server::framing::{Decoder, Delimited, Endian, FrameError, LengthPrefixed};
use framesim_server::protocol::inline::split_args;
use framesim_server::protocol::resp::{encode_command, encode_reply, ReplyDecoder, RequestDecoder};
use framesim_server::{Command, Reply};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Everything a decoder produced for one stream: its frames, then how it ended.
#[derive(Debug, PartialEq)]
struct Outcome<T> {
    frames: Vec<T>,
    end: Result<(), FrameError>,
}

/// Feeds `chunks` one after another, decoding everything after each, then ends the stream.
fn feed<D>(mut dec: D, chunks: &[&[u8]]) -> Outcome<D::Item>
where
    D: Decoder + Clone,
    D::Item: Debug + PartialEq,
{
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return failed_for_good(dec, buf, frames, e),
            }
        }
        check_in_frame(&dec, &buf);
    }
    finish(dec, buf, frames)
}

/// Between frames, `in_frame() || !buf.is_empty()` says exactly whether the stream ending
/// now would be an unexpected end.
fn check_in_frame<D>(dec: &D, buf: &BytesMut)
where
    D: Decoder + Clone,
    D::Item: Debug,
{
    let partial = dec.in_frame() || !buf.is_empty();
    let eof = dec.clone().decode_eof(&mut buf.clone());
    assert!(
        matches!(eof, Ok(None) | Err(FrameError::UnexpectedEof { .. })),
        "{eof:?}"
    );
    assert_eq!(partial, eof.is_err(), "in_frame with {:?}", buf);
}

/// Like [`feed`], through the batch path [`Delimited::decode_each`].
fn feed_each(mut dec: Delimited, chunks: &[&[u8]]) -> Outcome<BytesMut> {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let each = dec.decode_each(&mut buf, |f| frames.push(BytesMut::from(f)));
        if let Err(e) = each {
            return failed_for_good(dec, buf, frames, e);
        }
    }
    finish(dec, buf, frames)
}

/// Ends the stream: takes the last frames, then the end-of-stream result.
fn finish<D>(mut dec: D, mut buf: BytesMut, mut frames: Vec<D::Item>) -> Outcome<D::Item>
where
    D: Decoder,
    D::Item: Debug + PartialEq,
{
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => break,
            Err(e) => return failed_for_good(dec, buf, frames, e),
        }
    }
    assert_eq!(dec.decode_eof(&mut buf), Ok(None));
    ok(frames)
}

/// Checks that a failed decoder repeats its error on every later call.
fn failed_for_good<D>(
    mut dec: D,
    mut buf: BytesMut,
    frames: Vec<D::Item>,
    e: FrameError,
) -> Outcome<D::Item>
where
    D: Decoder,
    D::Item: Debug + PartialEq,
{
    buf.extend_from_slice(b"\r\nmore\r\n");
    for _ in 0..2 {
        assert_eq!(dec.decode(&mut buf), Err(e.clone()));
        assert_eq!(dec.decode_eof(&mut buf), Err(e.clone()));
    }
    failed(frames, e)
}

/// Feeds `input` whole, one byte at a time, and cut into 2 and 3 pieces in every way;
/// asserts all agree and returns the outcome.
fn every_split<D>(make: impl Fn() -> D, input: &[u8]) -> Outcome<D::Item>
where
    D: Decoder + Clone,
    D::Item: Debug + PartialEq,
{
    splits_agree(|chunks| feed(make(), chunks), input)
}

/// [`every_split`] for any way of running a decoder over chunks.
fn splits_agree<T>(run: impl Fn(&[&[u8]]) -> Outcome<T>, input: &[u8]) -> Outcome<T>
where
    T: Debug + PartialEq,
{
    let whole = run(&[input]);
    let show = input.escape_ascii();
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytes), whole, "1-byte chunks of {show}");
    for i in 0..=input.len() {
        let (a, rest) = input.split_at(i);
        assert_eq!(run(&[a, rest]), whole, "cut at {i} of {show}");
        for j in 0..=rest.len() {
            let (b, c) = rest.split_at(j);
            let got = run(&[a, b, c]);
            assert_eq!(got, whole, "cuts at {i}, {} of {show}", i + j);
        }
    }
    whole
}

/// Feeds `input` cut at random points, several times; asserts all agree with whole.
fn random_splits<D>(make: impl Fn() -> D, input: &[u8], rng: &mut SmallRng) -> Outcome<D::Item>
where
    D: Decoder + Clone,
    D::Item: Debug + PartialEq,
{
    let whole = feed(make(), &[input]);
    for _ in 0..4 {
        let chunks = random_chunks(input, rng);
        let got = feed(make(), &chunks);
        assert_eq!(got, whole, "cuts {:?}", chunk_lens(&chunks));
    }
    whole
}

/// `input` cut at up to 11 random points (empty pieces included).
fn random_chunks<'a>(input: &'a [u8], rng: &mut SmallRng) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = (0..rng.random_range(1..12))
        .map(|_| rng.random_range(0..=input.len()))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        chunks.push(&input[from..cut]);
        from = cut;
    }
    chunks
}

fn chunk_lens(chunks: &[&[u8]]) -> Vec<usize> {
    chunks.iter().map(|c| c.len()).collect()
}

fn ok<T>(frames: Vec<T>) -> Outcome<T> {
    Outcome {
        frames,
        end: Ok(()),
    }
}

fn failed<T>(frames: Vec<T>, e: FrameError) -> Outcome<T> {
    Outcome {
        frames,
        end: Err(e),
    }
}

fn bufs(frames: &[&[u8]]) -> Vec<BytesMut> {
    frames.iter().map(|f| BytesMut::from(*f)).collect()
}

fn malformed(what: &str, at: u64) -> FrameError {
    FrameError::Malformed {
        what: what.into(),
        at,
    }
}

fn too_large(limit: usize, at: u64) -> FrameError {
    FrameError::TooLarge { limit, at }
}

fn eof(at: u64) -> FrameError {
    FrameError::UnexpectedEof { at }
}

/// Replaces or inserts one byte somewhere in `bytes`, from bytes that mean something to
/// the protocols here.
fn corrupt(bytes: &mut Vec<u8>, rng: &mut SmallRng) {
    const JUNK: &[u8] = b"\r\n*$:+-0a \"'x\x00";
    let junk = JUNK[rng.random_range(0..JUNK.len())];
    let at = rng.random_range(0..=bytes.len());
    if at < bytes.len() && rng.random_bool(0.5) {
        bytes[at] = junk;
    } else {
        bytes.insert(at, junk);
    }
}

// ---------------------------------------------------------------- delimited

#[test]
fn delimited_every_split() {
    let crlf = || Delimited::new(b"\r\n", 5);
    let cases = [
        (&b"ab\r\ncd\r\n"[..], ok(bufs(&[b"ab", b"cd"]))),
        (b"\r\n\r\n", ok(bufs(&[b"", b""]))),
        (b"a\rb\r\r\n\n", failed(bufs(&[b"a\rb\r"]), eof(6))),
        (b"abcde\r\nx", failed(bufs(&[b"abcde"]), eof(7))),
        (b"ab\r\nabcdef\r\n", failed(bufs(&[b"ab"]), too_large(5, 4))),
        (b"abcdef", failed(vec![], too_large(5, 0))),
        (b"abcde\r", failed(vec![], eof(0))),
        (b"", ok(vec![])),
    ];
    for (input, want) in cases {
        assert_eq!(every_split(crlf, input), want, "{}", input.escape_ascii());
        let batched = splits_agree(|chunks| feed_each(crlf(), chunks), input);
        assert_eq!(batched, want, "decode_each: {}", input.escape_ascii());
    }
    let odd = || Delimited::new(b"aab", 4);
    assert_eq!(
        every_split(odd, b"xaaabaabaaaab"),
        ok(bufs(&[b"xa", b"", b"aa"]))
    );
    let lines = Delimited::lines;
    assert_eq!(
        every_split(lines, b"one\r\ntwo\n\n"),
        ok(bufs(&[b"one\r", b"two", b""]))
    );
}

#[test]
fn delimited_random_splits() {
    let mut rng = SmallRng::seed_from_u64(0xde11);
    for round in 0..400 {
        let max = rng.random_range(0..40);
        let make = || Delimited::new(b"\r\n", max);
        let len = rng.random_range(0..600);
        let input: Vec<u8> = (0..len)
            .map(|_| b"ab\r\n"[rng.random_range(0..4)])
            .collect();
        let whole = random_splits(make, &input, &mut rng);
        let chunks = random_chunks(&input, &mut rng);
        assert_eq!(
            feed_each(make(), &chunks),
            whole,
            "decode_each, round {round}"
        );
        // Encoded frames come back unchanged.
        let enc = Delimited::new(b"\r\n", max);
        let mut stream = BytesMut::new();
        let mut sent = Vec::new();
        for _ in 0..rng.random_range(0..30) {
            let frame: Vec<u8> = (0..rng.random_range(0..=max))
                .map(|_| b"ab\r"[rng.random_range(0..3)])
                .collect();
            if enc.encode(&frame, &mut stream).is_ok() {
                sent.push(BytesMut::from(&frame[..]));
            }
        }
        let got = random_splits(make, &stream, &mut rng);
        assert_eq!(got, ok(sent), "round {round}");
    }
}

#[test]
fn delimited_limit_is_exact() {
    let make = || Delimited::new(b"\r\n", 8);
    assert_eq!(feed(make(), &[b"12345678\r\n"]), ok(bufs(&[b"12345678"])));
    assert_eq!(
        feed(make(), &[b"123456789\r\n"]),
        failed(vec![], too_large(8, 0))
    );
    // Rejected before the delimiter arrives: 9 bytes with no "\r\n" in the first 10.
    assert_eq!(
        feed(make(), &[b"123456789", b"x"]).end,
        Err(too_large(8, 0))
    );
    let enc = make();
    let mut dst = BytesMut::new();
    assert!(enc.encode(b"12345678", &mut dst).is_ok());
    assert_eq!(enc.encode(b"123456789", &mut dst), Err(too_large(8, 0)));
    assert!(matches!(
        enc.encode(b"a\r\nb", &mut dst),
        Err(FrameError::Malformed { at: 1, .. })
    ));
}

// ---------------------------------------------------------------- length-prefixed

#[test]
fn length_prefixed_every_split() {
    let two = || {
        LengthPrefixed::new()
            .with_header_len(2)
            .unwrap()
            .with_max_frame_len(4)
    };
    let cases = [
        (
            &b"\x00\x02hi\x00\x00\x00\x04abcd"[..],
            ok(bufs(&[b"hi", b"", b"abcd"])),
        ),
        (
            b"\x00\x01a\x00\x05abcde",
            failed(bufs(&[b"a"]), too_large(4, 3)),
        ),
        (b"\x00\x03ab", failed(vec![], eof(0))),
        (b"\x00\x01a\x00", failed(bufs(&[b"a"]), eof(3))),
        (b"\xff\xff", failed(vec![], too_large(4, 0))),
    ];
    for (input, want) in cases {
        assert_eq!(every_split(two, input), want, "{}", input.escape_ascii());
    }
    let adjusted = || {
        LengthPrefixed::new()
            .with_endian(Endian::Little)
            .with_adjustment(-4)
    };
    let input = b"\x06\x00\x00\x00xy\x03\x00\x00\x00";
    let negative = malformed("negative frame length -1", 6);
    assert_eq!(
        every_split(adjusted, input),
        failed(bufs(&[b"xy"]), negative)
    );
}

#[test]
fn length_prefixed_random_splits() {
    let mut rng = SmallRng::seed_from_u64(0x1e76);
    for round in 0..300 {
        let header = [1, 2, 4, 8][rng.random_range(0..4)];
        let endian = [Endian::Big, Endian::Little][rng.random_range(0..2)];
        let max = rng.random_range(0..200);
        let adjust = rng.random_range(-3..=3);
        let make = || {
            LengthPrefixed::new()
                .with_header_len(header)
                .unwrap()
                .with_endian(endian)
                .with_adjustment(adjust)
                .with_max_frame_len(max)
        };
        let enc = make();
        let mut stream = BytesMut::new();
        let mut sent = Vec::new();
        for _ in 0..rng.random_range(0..20) {
            let mut payload = vec![0u8; rng.random_range(0..=max)];
            rng.fill(&mut payload[..]);
            if enc.encode(&payload, &mut stream).is_ok() {
                sent.push(BytesMut::from(&payload[..]));
            }
        }
        assert_eq!(
            random_splits(make, &stream, &mut rng),
            ok(sent),
            "round {round}"
        );
        let mut bad = stream.to_vec();
        corrupt(&mut bad, &mut rng);
        random_splits(make, &bad, &mut rng);
    }
}

#[test]
fn length_prefixed_limit_is_exact() {
    let make = || LengthPrefixed::new().with_max_frame_len(5);
    let mut stream = BytesMut::new();
    make().encode(b"12345", &mut stream).unwrap();
    assert_eq!(feed(make(), &[&stream]), ok(bufs(&[b"12345"])));
    let big = b"\x00\x00\x00\x06";
    assert_eq!(feed(make(), &[big]), failed(vec![], too_large(5, 0)));
    assert_eq!(make().encode(b"123456", &mut stream), Err(too_large(5, 0)));
    let one = LengthPrefixed::new().with_header_len(1).unwrap();
    assert!(one.encode(&[0; 255], &mut stream).is_ok());
    assert!(matches!(
        one.encode(&[0; 256], &mut stream),
        Err(FrameError::Malformed { .. })
    ));
    let err = LengthPrefixed::new().with_header_len(3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a length header is 1, 2, 4 or 8 bytes, not 3"
    );
}

// ---------------------------------------------------------------- RESP requests

fn small_requests() -> RequestDecoder {
    RequestDecoder::new()
        .max_inline(16)
        .max_bulk(8)
        .max_array(4)
}

fn cmd(args: &[&str]) -> Command {
    Command::new(args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())))
}

#[test]
fn requests_every_split() {
    let get = cmd(&["GET", "k"]);
    let cases = [
        (
            &b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"[..],
            ok(vec![get.clone()]),
        ),
        (
            b"PING\r\n  \r\n\nset 'a b' \"\\x41\"\n",
            ok(vec![cmd(&["PING"]), cmd(&["set", "a b", "A"])]),
        ),
        (b"*0\r\n*-1\r\nPING\n", ok(vec![cmd(&["PING"])])),
        (b"*1\r\n$8\r\n12345678\r\n", ok(vec![cmd(&["12345678"])])),
        (
            b"*1\r\n$3\r\nabcXY",
            failed(
                vec![],
                malformed("Protocol error: bulk string not terminated by CRLF", 11),
            ),
        ),
        (
            b"*2\r\n:3\r\n",
            failed(
                vec![],
                malformed("Protocol error: expected '$', got ':'", 4),
            ),
        ),
        (
            b"*x\r\n",
            failed(
                vec![],
                malformed("Protocol error: invalid multibulk length", 0),
            ),
        ),
        (
            b"PING\n*5\r\n",
            failed(
                vec![cmd(&["PING"])],
                malformed("Protocol error: invalid multibulk length", 5),
            ),
        ),
        (
            b"*1\r\n$9\r\n",
            failed(vec![], malformed("Protocol error: invalid bulk length", 4)),
        ),
        (
            b"*1\r\n$-2\r\n",
            failed(vec![], malformed("Protocol error: invalid bulk length", 4)),
        ),
        (
            b"x 'unbalanced\n",
            failed(
                vec![],
                malformed("Protocol error: unbalanced quotes in request", 0),
            ),
        ),
        (
            b"GET k\r\n01234567890123456",
            failed(
                vec![cmd(&["GET", "k"])],
                malformed("Protocol error: too big inline request", 7),
            ),
        ),
        (b"*2\r\n$3\r\nGET\r\n$1", failed(vec![], eof(0))),
        (
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nGE",
            failed(vec![get], eof(20)),
        ),
        (b"*2\r", failed(vec![], eof(0))),
    ];
    for (input, want) in cases {
        let got = every_split(small_requests, input);
        assert_eq!(got, want, "{}", input.escape_ascii());
    }
}

fn random_command(rng: &mut SmallRng, max_arg: usize) -> Command {
    let n = rng.random_range(1..5);
    Command::new((0..n).map(|_| {
        let len = rng.random_range(0..=max_arg);
        let arg: Vec<u8> = (0..len)
            .map(|_| b"ab\r\n$*"[rng.random_range(0..6)])
            .collect();
        Bytes::from(arg)
    }))
}

#[test]
fn requests_random_splits() {
    let mut rng = SmallRng::seed_from_u64(0x4e5b);
    for round in 0..300 {
        let mut stream = BytesMut::new();
        let mut sent = Vec::new();
        for _ in 0..rng.random_range(0..20) {
            if rng.random_bool(0.2) {
                stream.extend_from_slice(b"SET \"k\\x41\" 'v'\r\n");
                sent.push(cmd(&["SET", "kA", "v"]));
            } else {
                let c = random_command(&mut rng, 8);
                encode_command(&c, &mut stream);
                sent.push(c);
            }
        }
        let got = random_splits(small_requests, &stream, &mut rng);
        assert_eq!(got, ok(sent), "round {round}");
        let mut bad = stream.to_vec();
        for _ in 0..rng.random_range(1..3) {
            corrupt(&mut bad, &mut rng);
        }
        random_splits(small_requests, &bad, &mut rng);
    }
}

#[test]
fn request_limits_are_exact() {
    let at_max = |n: usize| {
        let mut s = BytesMut::new();
        encode_command(&Command::new([vec![b'v'; n]]), &mut s);
        feed(small_requests(), &[&s]).end
    };
    assert_eq!(at_max(8), Ok(()));
    assert_eq!(
        at_max(9),
        Err(malformed("Protocol error: invalid bulk length", 4))
    );
    let inline = |n: usize| {
        let mut line = vec![b'a'; n];
        line.push(b'\n');
        feed(small_requests(), &[&line]).end
    };
    assert_eq!(inline(16), Ok(()));
    assert_eq!(
        inline(17),
        Err(malformed("Protocol error: too big inline request", 0))
    );
    let array = |n: usize| {
        let mut s = BytesMut::new();
        encode_command(&Command::new(vec![Bytes::new(); n]), &mut s);
        feed(small_requests(), &[&s]).end
    };
    assert_eq!(array(4), Ok(()));
    assert_eq!(
        array(5),
        Err(malformed("Protocol error: invalid multibulk length", 0))
    );
}

// ---------------------------------------------------------------- RESP replies

fn small_replies() -> ReplyDecoder {
    ReplyDecoder::new()
        .max_line(16)
        .max_bulk(8)
        .max_array(4)
        .max_depth(3)
}

#[test]
fn replies_every_split() {
    let cases = [
        (
            &b"+OK\r\n-ERR x\r\n:-7\r\n$-1\r\n*-1\r\n*0\r\n"[..],
            ok(vec![
                Reply::ok(),
                Reply::error("ERR x"),
                Reply::Integer(-7),
                Reply::Null,
                Reply::Null,
                Reply::Array(vec![]),
            ]),
        ),
        (
            b"*2\r\n*1\r\n$2\r\nab\r\n$0\r\n\r\n",
            ok(vec![Reply::Array(vec![
                Reply::Array(vec![Reply::bulk("ab")]),
                Reply::bulk(""),
            ])]),
        ),
        (
            b":1\r\n*2\r\n:1\r\n",
            failed(vec![Reply::Integer(1)], eof(4)),
        ),
        (
            b"$9\r\n",
            failed(vec![], malformed("Protocol error: invalid bulk length", 0)),
        ),
        (
            b"$2\r\nab\n",
            failed(
                vec![],
                malformed("Protocol error: bulk string not terminated by CRLF", 6),
            ),
        ),
        (
            b":x\r\n",
            failed(vec![], malformed("Protocol error: invalid integer", 0)),
        ),
        (
            b"*1\r\n*1\r\n*1\r\n*1\r\n",
            failed(
                vec![],
                malformed("Protocol error: arrays nested too deeply", 12),
            ),
        ),
        (
            b"+0123456789abcdefg",
            failed(vec![], malformed("Protocol error: too big reply line", 0)),
        ),
        (
            b"!",
            failed(
                vec![],
                malformed("Protocol error: unknown reply type '!'", 0),
            ),
        ),
    ];
    for (input, want) in cases {
        let got = every_split(small_replies, input);
        assert_eq!(got, want, "{}", input.escape_ascii());
    }
}

fn random_reply(rng: &mut SmallRng, depth: usize) -> Reply {
    match rng.random_range(0..if depth < 3 { 6 } else { 5 }) {
        0 => Reply::Simple(["OK", "", "PONG"][rng.random_range(0..3)].into()),
        1 => Reply::error("ERR no"),
        2 => Reply::Integer(rng.random_range(-1000..1000)),
        3 => {
            let len = rng.random_range(0..=8);
            Reply::Bulk(
                (0..len)
                    .map(|_| b"\r\n$x"[rng.random_range(0..4)])
                    .collect(),
            )
        }
        4 => Reply::Null,
        _ => Reply::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_reply(rng, depth + 1))
                .collect(),
        ),
    }
}

#[test]
fn replies_random_splits() {
    let mut rng = SmallRng::seed_from_u64(0x4e91);
    for round in 0..300 {
        let sent: Vec<Reply> = (0..rng.random_range(0..12))
            .map(|_| random_reply(&mut rng, 1))
            .collect();
        let mut stream = BytesMut::new();
        for r in &sent {
            encode_reply(r, &mut stream);
        }
        let got = random_splits(small_replies, &stream, &mut rng);
        assert_eq!(got, ok(sent), "round {round}");
        let mut bad = stream.to_vec();
        corrupt(&mut bad, &mut rng);
        random_splits(small_replies, &bad, &mut rng);
    }
}

// ---------------------------------------------------------------- round trips

#[test]
fn commands_round_trip() {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut stream = BytesMut::new();
    let sent: Vec<Command> = (0..200).map(|_| random_command(&mut rng, 300)).collect();
    for c in &sent {
        encode_command(c, &mut stream);
    }
    assert_eq!(feed(RequestDecoder::new(), &[&stream]), ok(sent));
    let args = split_args(b"a \"b c\" 'd'").unwrap();
    assert_eq!(args, [&b"a"[..], b"b c", b"d"]);
}

#[test]
fn replies_round_trip() {
    let mut rng = SmallRng::seed_from_u64(8);
    let mut sent: Vec<Reply> = (0..200).map(|_| random_reply(&mut rng, 1)).collect();
    sent.push(Reply::Integer(i64::MIN));
    sent.push(Reply::Integer(i64::MAX));
    let mut stream = BytesMut::new();
    for r in &sent {
        encode_reply(r, &mut stream);
    }
    assert_eq!(feed(ReplyDecoder::new(), &[&stream]), ok(sent));
    // CR/LF in a status line cannot break the framing.
    let mut s = BytesMut::new();
    encode_reply(&Reply::Simple("a\r\nb".into()), &mut s);
    assert_eq!(
        feed(ReplyDecoder::new(), &[&s]),
        ok(vec![Reply::Simple("a  b".into())])
    );
}

// ---------------------------------------------------------------- linear work

const MIB: usize = 1 << 20;

/// Feeds `input` one byte at a time, decoding after each; returns the frames.
fn byte_by_byte<D: Decoder>(dec: &mut D, input: &[u8]) -> Vec<D::Item> {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for &b in input {
        buf.extend_from_slice(&[b]);
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            frames.push(f);
        }
    }
    assert!(dec.decode_eof(&mut buf).unwrap().is_none());
    frames
}

#[test]
fn one_byte_feeding_is_linear() {
    // One 1 MiB line: each call scans the new byte plus one of a possibly split "\r\n".
    let mut line = vec![b'a'; MIB];
    line.extend_from_slice(b"\r\n");
    let mut dec = Delimited::new(b"\r\n", 2 * MIB);
    let frames = byte_by_byte(&mut dec, &line);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].len(), MIB);
    assert!(
        dec.bytes_scanned() <= 2 * line.len() as u64,
        "{}",
        dec.bytes_scanned()
    );

    // 1 MiB of 64-byte lines.
    let lines: Vec<u8> = (0..MIB)
        .map(|i| if i % 64 == 63 { b'\n' } else { b'x' })
        .collect();
    let mut dec = Delimited::lines();
    assert_eq!(byte_by_byte(&mut dec, &lines).len(), MIB / 64);
    assert!(dec.bytes_scanned() <= lines.len() as u64);
    let mut dec = Delimited::lines();
    let (mut buf, mut n) = (BytesMut::new(), 0);
    for &b in &lines {
        buf.extend_from_slice(&[b]);
        n += dec.decode_each(&mut buf, |_| {}).unwrap();
    }
    assert_eq!(n, MIB / 64);
    assert!(dec.bytes_scanned() <= lines.len() as u64);

    // 1 MiB of requests, and one 1 MiB bulk.
    let mut stream = BytesMut::new();
    while stream.len() < MIB {
        encode_command(&cmd(&["SET", "key", "value"]), &mut stream);
        stream.extend_from_slice(b"GET key\r\n");
    }
    encode_command(&Command::new([vec![b'v'; MIB]]), &mut stream);
    let mut dec = RequestDecoder::new();
    let n = byte_by_byte(&mut dec, &stream).len();
    assert!(n > 2 * MIB / 64);
    assert!(dec.bytes_scanned() <= 2 * stream.len() as u64);

    // The same for replies.
    let mut stream = BytesMut::new();
    let reply = Reply::Array(vec![Reply::ok(), Reply::bulk("value"), Reply::Integer(3)]);
    while stream.len() < MIB {
        encode_reply(&reply, &mut stream);
    }
    encode_reply(&Reply::bulk(vec![b'v'; MIB]), &mut stream);
    let mut dec = ReplyDecoder::new();
    assert!(byte_by_byte(&mut dec, &stream).len() > MIB / 64);
    assert!(dec.bytes_scanned() <= 2 * stream.len() as u64);

    // A 1 MiB length-prefixed frame: no scanning at all.
    let mut stream = BytesMut::new();
    let lp = LengthPrefixed::new();
    lp.encode(&vec![7; MIB], &mut stream).unwrap();
    let frames = byte_by_byte(&mut lp.clone(), &stream);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].len(), MIB);
}

// ---------------------------------------------------------------- memory

/// Feeds `stream` in 64 KiB reads, as a connection would, until `dec` yields a frame;
/// returns the frame and the buffer's capacity before and after the frame was taken.
fn read_until_frame<D: Decoder>(dec: &mut D, stream: &[u8]) -> (D::Item, usize, usize) {
    let mut buf = BytesMut::new();
    for chunk in stream.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        let before = buf.capacity();
        if let Some(frame) = dec.decode(&mut buf).unwrap() {
            return (frame, before, buf.capacity());
        }
    }
    panic!("no frame");
}

#[test]
fn large_frames_take_their_memory_with_them() {
    // Delimited: the frame's bytes leave the buffer with it.
    let mut line = vec![b'a'; MIB];
    line.extend_from_slice(b"\r\nrest");
    let (frame, before, after) = read_until_frame(&mut Delimited::new(b"\r\n", MIB), &line);
    assert_eq!(frame.len(), MIB);
    assert!(after <= before - MIB, "{before} -> {after}");

    // Length-prefixed: the payload is reserved once, so nothing much is left behind.
    let mut stream = BytesMut::new();
    LengthPrefixed::new()
        .encode(&vec![1; MIB], &mut stream)
        .unwrap();
    let (frame, _, after) = read_until_frame(&mut LengthPrefixed::new(), &stream);
    assert_eq!(frame.len(), MIB);
    assert!(after < 64 * 1024, "left {after}");

    // RESP: the same for a large bulk argument.
    let mut stream = BytesMut::new();
    encode_command(&Command::new([vec![b'v'; MIB]]), &mut stream);
    let (cmd, _, after) = read_until_frame(&mut RequestDecoder::new(), &stream);
    assert_eq!(cmd.args[0].len(), MIB);
    assert!(after < 64 * 1024, "left {after}");
}

//! Framing throughput: our decoders against tokio-util's codecs on the same bytes.
//!
//! Every row decodes one input built before the clock starts, from a fresh `BytesMut` per
//! iteration (`iter_batched`), fed three ways:
//!
//! - `whole`: the entire input is in the buffer at once (a deep pipeline);
//! - `random`: seeded chunks of 1..=4096 bytes, decoding after each (real sockets);
//! - `1byte`: one byte at a time, decoding after each (the worst case for rescanning).
//!
//! Groups are named `<framing>_<feed>`, functions name the decoder, the parameter is the
//! frame size in bytes (delimiter or header included). Throughput is bytes of input per
//! second. `linear_1byte` feeds 4× more bytes one at a time than `*_1byte`: the same
//! throughput there means the cost is linear in the input. `bench/framing-ratios.sh` runs
//! this and prints ours/peer per row.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use framesim_server::framing::{Decoder as OurDecoder, Delimited, LengthPrefixed};
use framesim_server::protocol::resp::RequestDecoder;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio_util::codec::{
    AnyDelimiterCodec, Decoder as PeerDecoder, LengthDelimitedCodec, LinesCodec,
};

/// Input for `whole` and `random` feeding.
const TOTAL: usize = 1 << 20;
/// Input for `1byte` feeding (one decode call per byte is slow for every decoder).
const TOTAL_1BYTE: usize = 256 << 10;
/// Frame sizes, delimiter or header included.
const SIZES: [usize; 4] = [16, 64, 1024, 64 << 10];
/// Limit on one frame, the same for every decoder: none of them ever hits it.
const MAX: usize = 16 << 20;

/// A decoder under test: decodes every complete frame in `buf` and says how many there were.
trait Framer {
    fn drain(&mut self, buf: &mut BytesMut) -> usize;
}

/// One of our decoders through [`OurDecoder::decode`]: each frame is split off the buffer.
struct Ours<D>(D);

impl<D: OurDecoder> Framer for Ours<D> {
    #[inline]
    fn drain(&mut self, buf: &mut BytesMut) -> usize {
        let mut n = 0;
        while let Some(frame) = self.0.decode(buf).expect("valid input") {
            black_box(&frame);
            n += 1;
        }
        n
    }
}

/// [`Delimited::decode_each`]: frames borrowed in place, the buffer advanced once per batch.
struct OursEach(Delimited);

impl Framer for OursEach {
    #[inline]
    fn drain(&mut self, buf: &mut BytesMut) -> usize {
        self.0
            .decode_each(buf, |frame| {
                black_box(frame);
            })
            .expect("valid input")
    }
}

/// [`LengthPrefixed::decode_each`]: payloads borrowed in place, the buffer advanced once.
struct OursEachLength(LengthPrefixed);

impl Framer for OursEachLength {
    #[inline]
    fn drain(&mut self, buf: &mut BytesMut) -> usize {
        self.0
            .decode_each(buf, |payload| {
                black_box(payload);
            })
            .expect("valid input")
    }
}

/// The floor for owned frames: `memchr` from the buffer's start and `split_to`, no limits, no
/// resumed search, no error state. Not a usable decoder (it rescans a partial line on every
/// call): a reference for what splitting itself costs.
struct BareSplit;

impl Framer for BareSplit {
    #[inline]
    fn drain(&mut self, buf: &mut BytesMut) -> usize {
        let mut n = 0;
        while let Some(pos) = memchr::memchr(b'\n', buf) {
            let frame = buf.split_to(pos + 1);
            black_box(&frame);
            n += 1;
        }
        n
    }
}

/// The floor for a batch API on length-prefixed frames: read each 4-byte header, check the
/// limit, borrow the payload in place, advance once; no state, no error offsets.
struct HeaderEach;

impl Framer for HeaderEach {
    #[inline]
    fn drain(&mut self, buf: &mut BytesMut) -> usize {
        let (mut at, mut n) = (0, 0);
        while let Some(header) = buf.get(at..at + 4) {
            let len = u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
            assert!(len <= MAX, "frame too large");
            let Some(payload) = buf.get(at + 4..at + 4 + len) else {
                break;
            };
            black_box(payload);
            at += 4 + len;
            n += 1;
        }
        buf.advance(at);
        n
    }
}

/// A tokio-util codec.
struct Peer<C>(C);

impl<C: PeerDecoder> Framer for Peer<C>
where
    C::Error: std::fmt::Debug,
{
    #[inline]
    fn drain(&mut self, buf: &mut BytesMut) -> usize {
        let mut n = 0;
        while let Some(frame) = self.0.decode(buf).expect("valid input") {
            black_box(&frame);
            n += 1;
        }
        n
    }
}

/// The `redis-protocol` crate's RESP2 decoder (v6): one frame per call, split off the
/// buffer without copying (`decode_bytes_mut`), as a server on top of it would.
struct RedisProtocol;

impl Framer for RedisProtocol {
    #[inline]
    fn drain(&mut self, buf: &mut BytesMut) -> usize {
        let mut n = 0;
        while let Some(frame) =
            redis_protocol::resp2::decode::decode_bytes_mut(buf).expect("valid input")
        {
            black_box(&frame);
            n += 1;
        }
        n
    }
}

/// How the input reaches the decoder.
#[derive(Clone, Copy)]
enum Feed {
    Whole,
    Random,
    OneByte,
}

impl Feed {
    fn name(self) -> &'static str {
        match self {
            Feed::Whole => "whole",
            Feed::Random => "random",
            Feed::OneByte => "1byte",
        }
    }

    fn total(self) -> usize {
        match self {
            Feed::OneByte => TOTAL_1BYTE,
            Feed::Whole | Feed::Random => TOTAL,
        }
    }

    /// Chunk lengths covering `len` bytes, drawn before the clock starts.
    fn chunks(self, len: usize) -> Vec<usize> {
        match self {
            Feed::Whole => vec![len],
            Feed::OneByte => vec![1; len],
            Feed::Random => {
                let mut rng = SmallRng::seed_from_u64(0x5eed);
                let mut out = Vec::new();
                let mut left = len;
                while left > 0 {
                    let n = rng.random_range(1..=4096).min(left);
                    out.push(n);
                    left -= n;
                }
                out
            }
        }
    }
}

/// Feeds `input` to `framer` in `chunks`, decoding after each; returns the frames decoded
/// and whatever must be dropped after the clock stops.
#[inline]
fn run<F: Framer>(
    framer: &mut F,
    mut buf: BytesMut,
    input: &[u8],
    chunks: &[usize],
) -> (usize, BytesMut) {
    if chunks.len() == 1 {
        // Whole: the buffer was filled by the (untimed) setup.
        let frames = framer.drain(&mut buf);
        return (frames, buf);
    }
    let mut frames = 0;
    let mut at = 0;
    for &n in chunks {
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
        frames += framer.drain(&mut buf);
    }
    assert!(buf.is_empty(), "input must end on a frame boundary");
    (frames, buf)
}

/// One input in every feeding mode, with its expected frame count.
struct Input {
    bytes: Vec<u8>,
    frames: usize,
}

/// `frame` repeated to about `total` bytes (at least once).
fn repeat(frame: &[u8], total: usize) -> Input {
    let frames = (total / frame.len()).max(1);
    Input {
        bytes: frame.repeat(frames),
        frames,
    }
}

/// A `\n`-terminated line of `size` bytes in all.
fn line(size: usize) -> Vec<u8> {
    let mut l: Vec<u8> = (0..size - 1).map(|i| b'a' + (i % 26) as u8).collect();
    l.push(b'\n');
    l
}

/// A length-prefixed frame of `size` bytes in all (4-byte big-endian header).
fn length_frame(size: usize) -> Vec<u8> {
    let mut f = ((size - 4) as u32).to_be_bytes().to_vec();
    f.extend((0..size - 4).map(|i| i as u8));
    f
}

/// A `SET` as `redis-benchmark -t set` pipelines it.
const RESP_SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$3\r\nxxx\r\n";
/// `PING` as `redis-benchmark -t ping` sends it inline.
const RESP_PING: &[u8] = b"PING\r\n";
/// redis-benchmark's GET and PING_MBULK requests.
const RESP_GET: &[u8] = b"*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000042\r\n";
const RESP_PING_MBULK: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// Benchmarks one row: `framer` (made fresh per iteration) on `input` fed as `feed`.
fn row<F: Framer>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    param: &str,
    input: &Input,
    feed: Feed,
    make: impl Fn() -> F,
) {
    let chunks = feed.chunks(input.bytes.len());
    let setup = || match feed {
        Feed::Whole => {
            let mut buf = BytesMut::from(&input.bytes[..]);
            // An empty handle on the same allocation, dropped after the clock stops: the
            // 1 MiB buffer is freed (munmap) outside the measurement, not by the last frame.
            let keep = buf.split_off(buf.len());
            (make(), buf, keep)
        }
        Feed::Random | Feed::OneByte => (make(), BytesMut::new(), BytesMut::new()),
    };
    // Check once, untimed, that the decoder sees every frame.
    let (mut f, buf, _keep) = setup();
    let (got, _) = run(&mut f, buf, &input.bytes, &chunks);
    assert_eq!(got, input.frames, "{name}/{param}: frames decoded");
    group.bench_function(BenchmarkId::new(name, param), |b| {
        b.iter_batched(
            setup,
            |(mut f, buf, keep)| (run(&mut f, buf, &input.bytes, &chunks), keep),
            BatchSize::LargeInput,
        )
    });
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(1000));
}

fn lines(c: &mut Criterion) {
    for feed in [Feed::Whole, Feed::Random, Feed::OneByte] {
        let mut group = c.benchmark_group(format!("lines_{}", feed.name()));
        configure(&mut group);
        for size in SIZES {
            let input = repeat(&line(size), feed.total());
            let p = size.to_string();
            group.throughput(Throughput::Bytes(input.bytes.len() as u64));
            row(&mut group, "ours", &p, &input, feed, || {
                Ours(Delimited::new(b"\n", MAX))
            });
            row(&mut group, "ours_each", &p, &input, feed, || {
                OursEach(Delimited::new(b"\n", MAX))
            });
            row(&mut group, "lines_codec", &p, &input, feed, || {
                Peer(LinesCodec::new_with_max_length(MAX))
            });
            row(&mut group, "any_delimiter", &p, &input, feed, || {
                Peer(AnyDelimiterCodec::new_with_max_length(
                    b"\n".to_vec(),
                    b"\n".to_vec(),
                    MAX,
                ))
            });
            if let Feed::Whole = feed {
                row(&mut group, "ref_memchr_split", &p, &input, feed, || {
                    BareSplit
                });
            }
        }
        group.finish();
    }
}

fn length(c: &mut Criterion) {
    for feed in [Feed::Whole, Feed::Random, Feed::OneByte] {
        let mut group = c.benchmark_group(format!("length_{}", feed.name()));
        configure(&mut group);
        for size in SIZES {
            let input = repeat(&length_frame(size), feed.total());
            let p = size.to_string();
            group.throughput(Throughput::Bytes(input.bytes.len() as u64));
            row(&mut group, "ours", &p, &input, feed, || {
                Ours(LengthPrefixed::new().with_max_frame_len(MAX))
            });
            row(&mut group, "ours_each", &p, &input, feed, || {
                OursEachLength(LengthPrefixed::new().with_max_frame_len(MAX))
            });
            row(&mut group, "length_delimited", &p, &input, feed, || {
                Peer(
                    LengthDelimitedCodec::builder()
                        .max_frame_length(MAX)
                        .new_codec(),
                )
            });
            if let Feed::Whole = feed {
                row(&mut group, "ref_header_each", &p, &input, feed, || {
                    HeaderEach
                });
            }
        }
        group.finish();
    }
}

/// RESP against the `redis-protocol` crate's RESP2 decoder on redis-benchmark-shaped streams,
/// and against tokio-util splitting the same stream into its `\n` lines (the least any
/// line-based RESP parser on top of tokio-util would do).
fn resp(c: &mut Criterion) {
    for feed in [Feed::Whole, Feed::Random, Feed::OneByte] {
        let mut group = c.benchmark_group(format!("resp_{}", feed.name()));
        configure(&mut group);
        for (p, request) in [
            ("set", RESP_SET),
            ("get", RESP_GET),
            ("ping_mbulk", RESP_PING_MBULK),
            ("ping_inline", RESP_PING),
        ] {
            let input = repeat(request, feed.total());
            group.throughput(Throughput::Bytes(input.bytes.len() as u64));
            row(&mut group, "ours", p, &input, feed, || {
                Ours(RequestDecoder::new())
            });
            // redis-protocol decodes RESP frames only, not inline commands.
            if request.starts_with(b"*") {
                row(&mut group, "redis_protocol", p, &input, feed, || {
                    RedisProtocol
                });
            }
            let lines = Input {
                frames: input.bytes.iter().filter(|&&b| b == b'\n').count(),
                bytes: input.bytes.clone(),
            };
            row(&mut group, "lines_codec", p, &lines, feed, || {
                Peer(LinesCodec::new_with_max_length(MAX))
            });
            row(&mut group, "any_delimiter", p, &lines, feed, || {
                Peer(AnyDelimiterCodec::new_with_max_length(
                    b"\n".to_vec(),
                    b"\n".to_vec(),
                    MAX,
                ))
            });
        }
        group.finish();
    }
}

/// 1-byte feeding of 4× the input of the `*_1byte` groups: equal throughput means linear cost.
fn linear(c: &mut Criterion) {
    let mut group = c.benchmark_group("linear_1byte");
    configure(&mut group);
    let total = 4 * TOTAL_1BYTE;
    for size in [64, 64 << 10] {
        let input = repeat(&line(size), total);
        group.throughput(Throughput::Bytes(input.bytes.len() as u64));
        let p = format!("lines_{size}");
        row(&mut group, "ours", &p, &input, Feed::OneByte, || {
            Ours(Delimited::new(b"\n", MAX))
        });
        row(&mut group, "lines_codec", &p, &input, Feed::OneByte, || {
            Peer(LinesCodec::new_with_max_length(MAX))
        });
        let input = repeat(&length_frame(size), total);
        let p = format!("length_{size}");
        row(&mut group, "ours", &p, &input, Feed::OneByte, || {
            Ours(LengthPrefixed::new().with_max_frame_len(MAX))
        });
        row(
            &mut group,
            "length_delimited",
            &p,
            &input,
            Feed::OneByte,
            || {
                Peer(
                    LengthDelimitedCodec::builder()
                        .max_frame_length(MAX)
                        .new_codec(),
                )
            },
        );
    }
    let input = repeat(RESP_SET, total);
    group.throughput(Throughput::Bytes(input.bytes.len() as u64));
    row(
        &mut group,
        "ours",
        "resp_set",
        &input,
        Feed::OneByte,
        || Ours(RequestDecoder::new()),
    );
    group.finish();
}

criterion_group!(benches, lines, length, resp, linear);
criterion_main!(benches);

//! Plain turmoil doing less than `framesim run`'s default scenario: an echo server, 10,000
//! clients (`CLIENTS`) × 10 line requests of up to 64 bytes written in seeded chunks of
//! 1..=64 bytes, spread over 25 client hosts, arriving over 200 ms, the same latency range —
//! and no oracles, transcript, faults, model or framing. `bench/sim-vs-turmoil.sh` runs it
//! beside `framesim run` and prints the ratio.
//!
//! Usage: `turmoil-echo [CLIENTS] [SEED]`; prints the wall time in seconds.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const PORT: u16 = 6379;
const HOSTS: usize = 25;
const REQUESTS: usize = 10;
const MAX_CHUNK: usize = 64;

fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(10_000, |a| a.parse().expect("CLIENTS"));
    let seed: u64 = args.next().map_or(1, |a| a.parse().expect("SEED"));
    let wall = Instant::now();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(3600))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_micros(100))
        .max_message_latency(Duration::from_millis(1))
        .tcp_capacity(clients + 64)
        .rng_seed(seed)
        .build();
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    for h in 0..HOSTS {
        let ids: Vec<usize> = (h..clients).step_by(HOSTS).collect();
        sim.client(format!("client{h}"), async move {
            let mut tasks = tokio::task::JoinSet::new();
            for id in ids {
                tasks.spawn(client(
                    seed ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                ));
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("client task")?;
            }
            Ok(())
        });
    }
    sim.run().expect("simulation");
    println!("{:.3}", wall.elapsed().as_secs_f64());
}

/// One client: arrives within 200 ms, sends 10 lines in chunks, reads each echo back.
async fn client(seed: u64) -> std::io::Result<()> {
    let mut rng = SmallRng::seed_from_u64(seed);
    tokio::time::sleep(Duration::from_micros(rng.random_range(0..200_000))).await;
    let stream = turmoil::net::TcpStream::connect(("server", PORT)).await?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut echo = String::new();
    for _ in 0..REQUESTS {
        let len = rng.random_range(8..64);
        let mut line: Vec<u8> = (0..len).map(|_| rng.random_range(b'a'..=b'z')).collect();
        line.push(b'\n');
        let mut start = 0;
        while start < line.len() {
            let end = (start + rng.random_range(1..=MAX_CHUNK)).min(line.len());
            write.write_all(&line[start..end]).await?;
            start = end;
        }
        echo.clear();
        lines.read_line(&mut echo).await?;
        assert_eq!(echo.as_bytes(), &line[..], "echo");
    }
    Ok(())
}

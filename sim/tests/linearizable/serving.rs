//! framesim's store behind an accept loop of a fixture's own: each command of each
//! connection goes to the fixture's handler, its replies written in order.

use bytes::BytesMut;
use framesim::harness::{Listener, Shutdown};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{Framing, ReplyEncoder, RequestDecoder};
use framesim_server::{Command, Kv, Limits, Reply, Service};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a fixture does with one command: the store, the connection's number, the command.
pub type Handler = Rc<dyn Fn(Rc<Kv>, usize, Command) -> Pin<Box<dyn Future<Output = Reply>>>>;

/// Serves RESP until `shutdown`, each command answered by `handler`. Runs on a
/// `LocalSet` of its own (the connections are local tasks).
pub async fn serve_with(listener: Listener, shutdown: Shutdown, handler: Handler) {
    let local = tokio::task::LocalSet::new();
    local.run_until(accept(listener, shutdown, handler)).await;
}

async fn accept(mut listener: Listener, shutdown: Shutdown, handler: Handler) {
    let kv = Rc::new(Kv::new());
    let serving = async move {
        let mut next = 0usize;
        while let Ok((mut stream, _)) = listener.accept().await {
            let (kv, handler, conn) = (kv.clone(), handler.clone(), next);
            next += 1;
            tokio::task::spawn_local(async move {
                let mut decoder = RequestDecoder::new(&Framing::Resp, &Limits::default());
                let encoder = ReplyEncoder::new(&Framing::Resp);
                let mut buf = BytesMut::new();
                while matches!(stream.read_buf(&mut buf).await, Ok(n) if n > 0) {
                    let mut out = BytesMut::new();
                    while let Ok(Some(cmd)) = decoder.decode(&mut buf) {
                        // Told when its reply is decided: where a fixture's command ends.
                        let request = super::told::resp_command(&cmd);
                        let reply = handler(kv.clone(), conn, cmd).await;
                        super::told::tell(&request, &reply);
                        encoder.encode(&reply, &mut out);
                    }
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    };
    tokio::select! {
        _ = serving => {}
        _ = shutdown => {}
    }
}

/// The store's own answer to `cmd`.
pub fn call(kv: &Kv, cmd: Command) -> Reply {
    kv.call(cmd).reply
}

//! The HTTP listener: one loopback server for all three clouds and the admin API.

use crate::sandbox::core::{Sandbox, SandboxError};
use crate::sandbox::http::Request;
use crate::sandbox::line_guard::LineGuard;
use crate::sandbox::transport::{self, Failure};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode};
use futures::StreamExt;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A sandbox listening on a socket.
pub struct RunningSandbox {
    pub addr: SocketAddr,
    pub sandbox: Arc<Sandbox>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`: the endpoint to give every SDK.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server ends (it ends only when stopped).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// The loopback listener, every connection behind a [`LineGuard`].
struct Guarded(tokio::net::TcpListener);

impl axum::serve::Listener for Guarded {
    type Io = LineGuard<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (LineGuard::new(stream), addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[derive(Clone)]
struct AppState {
    sandbox: Arc<Sandbox>,
    base_url: String,
}

/// Binds `addr` (port 0 = any free port) and serves `sandbox` on it until stopped.
pub async fn serve(
    sandbox: Arc<Sandbox>,
    addr: SocketAddr,
) -> Result<RunningSandbox, SandboxError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SandboxError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let state = AppState {
        sandbox: sandbox.clone(),
        base_url: format!("http://{addr}"),
    };
    let app = axum::Router::new().fallback(any).with_state(state);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(Guarded(listener), app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!("sandbox server stopped: {e}");
        }
    });
    Ok(RunningSandbox {
        addr,
        sandbox,
        shutdown: Some(tx),
        task,
    })
}

async fn any(State(state): State<AppState>, request: axum::extract::Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let resp = match read(parts, body, &state.base_url).await {
        Err(failure) => transport::answer(&path, &failure),
        Ok(req) => {
            let sandbox = state.sandbox.clone();
            isolated(&path, move || sandbox.handle(&req)).await
        }
    };
    let mut out = Response::builder()
        .status(StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &resp.headers {
        out = out.header(k.as_str(), v.as_str());
    }
    out.body(Body::from(resp.body))
        .unwrap_or_else(|_| Response::new(Body::from("bad response")))
}

/// Runs a handler for `path`. Handlers are quick and synchronous; they run off the async
/// workers all the same, and one that panics is answered 500 in its cloud's format (the world
/// lock it held is recovered by the next request: `Sandbox::lock`), so no request can take
/// the server down with it.
async fn isolated(
    path: &str,
    handler: impl FnOnce() -> crate::sandbox::http::Response + Send + 'static,
) -> crate::sandbox::http::Response {
    tokio::task::spawn_blocking(handler)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(%path, "sandbox handler panicked: {e}");
            transport::answer(path, &Failure::Internal)
        })
}

/// Reads one request whole, within the sandbox's limits: the request target at most
/// [`transport::MAX_URI_BYTES`], the body at most [`transport::MAX_BODY_BYTES`] (refused
/// from its `Content-Length` before reading when it says more), and a body that ends early or
/// is badly chunked is a [`Failure::BadBody`].
async fn read(
    parts: axum::http::request::Parts,
    body: Body,
    base_url: &str,
) -> Result<Request, Failure> {
    let target_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    if target_len > transport::MAX_URI_BYTES {
        return Err(Failure::UriTooLong);
    }
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > transport::MAX_BODY_BYTES as u64) {
        return Err(Failure::BodyTooLarge);
    }
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure::BadBody(e.to_string()))?;
        if bytes.len() + chunk.len() > transport::MAX_BODY_BYTES {
            return Err(Failure::BodyTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    let query = parts
        .uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Request {
        method: parts.method.as_str().to_ascii_uppercase(),
        path: parts.uri.path().to_string(),
        query,
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: bytes,
        base_url: base_url.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_that_panics_is_a_500_in_its_clouds_format_and_the_next_one_runs() {
        let path = "/subscriptions/s/resourceGroups/g";
        let r = isolated(path, || panic!("a handler bug")).await;
        assert_eq!(r.status, 500);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], "InternalServerError");
        let r = isolated("/", || panic!("another")).await;
        assert!(String::from_utf8_lossy(&r.body).contains("<Code>InternalError</Code>"));
        let ok = isolated(path, || {
            crate::sandbox::http::Response::new(200, "application/json", "{}")
        })
        .await;
        assert_eq!(ok.status, 200);
    }
}

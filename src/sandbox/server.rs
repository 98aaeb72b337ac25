//! The HTTP listener: one loopback server for all three clouds and the admin API.

use crate::sandbox::core::{Sandbox, SandboxError};
use crate::sandbox::http::Request;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
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
        let result = axum::serve(listener, app)
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

async fn any(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let query = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let req = Request {
        method: method.as_str().to_ascii_uppercase(),
        path: uri.path().to_string(),
        query,
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        base_url: state.base_url.clone(),
    };
    let sandbox = state.sandbox.clone();
    // Handlers are quick and synchronous; keep them off the async workers all the same.
    let resp = tokio::task::spawn_blocking(move || sandbox.handle(&req))
        .await
        .unwrap_or_else(|e| {
            crate::sandbox::http::Response::new(500, "text/plain", format!("sandbox panic: {e}"))
        });
    let mut out = axum::http::Response::builder()
        .status(StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &resp.headers {
        out = out.header(k.as_str(), v.as_str());
    }
    out.body(axum::body::Body::from(resp.body))
        .unwrap_or_else(|_| axum::http::Response::new(axum::body::Body::from("bad response")))
}

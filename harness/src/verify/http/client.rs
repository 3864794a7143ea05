//! A small HTTP/1.1 client on hyper for the verifiers that speak HTTP (etcd's v2 and v3
//! gateways, metrics endpoints): one connection per request, bounded by a timeout.

use crate::cluster::Endpoint;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// Requests that take longer than this fail.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

pub async fn request(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
) -> Result<Response, String> {
    let key = endpoint.address();
    crate::journal::track(&key, || format!("{method} {path}"), async {
        tokio::time::timeout(REQUEST_TIMEOUT, send(endpoint, method, path, body))
            .await
            .map_err(|_| {
                format!(
                    "{method} {path} on {endpoint}: no answer within {}s",
                    REQUEST_TIMEOUT.as_secs()
                )
            })?
    })
    .await
}

async fn send(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
) -> Result<Response, String> {
    let what = |e: &dyn std::fmt::Display| format!("{method} {path} on {endpoint}: {e}");
    let stream = tokio::net::TcpStream::connect(endpoint.address())
        .await
        .map_err(|e| what(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| what(&e))?;
    let driver = tokio::spawn(conn);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", endpoint.address());
    let payload = match body {
        Some((content_type, text)) => {
            builder = builder.header("content-type", content_type);
            Bytes::from(text)
        }
        None => Bytes::new(),
    };
    let request = builder.body(Full::new(payload)).map_err(|e| what(&e))?;
    let response = sender.send_request(request).await.map_err(|e| what(&e))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| what(&e))?
        .to_bytes();
    driver.abort();
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

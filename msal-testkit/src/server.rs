//! Listener, TLS, per-connection HTTP serving, request recording, faults and routing.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use openssl::ssl::{select_next_proto, AlpnError, Ssl, SslAcceptor, SslMethod};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_openssl::SslStream;

use crate::certs::TestCert;
use crate::discovery::{self, Endpoint};
use crate::faults::{FaultKind, ReplyBody};
use crate::state::{authority_host, Shared};
use crate::types::RecordedRequest;
use crate::wire::{Reply, Req};
use crate::{authorize, grants};

/// Largest request body accepted (token requests are a few KiB).
const MAX_BODY: usize = 1 << 20;
/// A client that does not finish the TLS handshake in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the TLS acceptor for the server certificate.
pub(crate) fn tls_acceptor(cert: &TestCert) -> std::io::Result<SslAcceptor> {
    let build = || -> Result<SslAcceptor, openssl::error::ErrorStack> {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        b.set_private_key(&cert.private_key())?;
        b.set_certificate(&cert.x509())?;
        b.check_private_key()?;
        b.set_alpn_select_callback(|_, client| {
            select_next_proto(b"\x02h2\x08http/1.1", client).ok_or(AlpnError::NOACK)
        });
        Ok(b.build())
    };
    build().map_err(std::io::Error::other)
}

/// Accepts connections until the task is aborted; aborting also drops every open connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<SslAcceptor>>,
    shared: Arc<Shared>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    conns.spawn(serve_tcp(tcp, tls.clone(), shared.clone()));
                }
                // Usually EMFILE; back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_tcp(tcp: TcpStream, tls: Option<Arc<SslAcceptor>>, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    match tls {
        Some(acceptor) => {
            let Ok(ssl) = Ssl::new(acceptor.context()) else {
                return;
            };
            let Ok(mut stream) = SslStream::new(ssl, tcp) else {
                return;
            };
            let handshake = Pin::new(&mut stream).accept();
            if let Ok(Ok(())) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                serve_io(stream, shared, "https").await;
            }
        }
        None => serve_io(tcp, shared, "http").await,
    }
}

async fn serve_io<I>(io: I, shared: Arc<Shared>, scheme: &'static str)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // A DropConnection fault fires `kill`; dropping the connection future then closes the
    // socket with no response written.
    let kill = Arc::new(Notify::new());
    let svc = {
        let kill = kill.clone();
        service_fn(move |req| {
            let shared = shared.clone();
            let kill = kill.clone();
            async move { Ok::<_, Infallible>(handle(req, &shared, scheme, &kill).await) }
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    scheme: &'static str,
    kill: &Notify,
) -> Response<ReplyBody> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return to_response(Reply::text(413, "request body too large")),
    };
    let req = build_req(&parts, &body, scheme, shared.port);
    let fault = {
        let mut state = shared.lock();
        state.requests.push(recorded(&req));
        state.faults.take(&req.path)
    };
    match fault {
        Some(FaultKind::Status {
            status,
            body,
            headers,
        }) => {
            let mut reply = Reply::text(status, &body);
            if body.trim_start().starts_with(['{', '[']) {
                reply.headers = vec![("content-type".into(), "application/json".into())];
            }
            for (k, v) in headers {
                reply
                    .headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case(&k));
                reply.headers.push((k, v));
            }
            return to_response(reply);
        }
        Some(FaultKind::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::DropConnection) => {
            kill.notify_one();
            return std::future::pending().await;
        }
        Some(FaultKind::ResetMidBody { status, body, sent }) => {
            let mut resp = Response::new(ReplyBody::cut(&body, sent));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return resp;
        }
        Some(FaultKind::Oversized {
            bytes,
            declare_length,
        }) => {
            let mut resp = Response::new(ReplyBody::oversized(bytes, declare_length));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return resp;
        }
        None => {}
    }
    to_response(route(shared, &req).await)
}

fn build_req(parts: &http::request::Parts, body: &Bytes, scheme: &'static str, port: u16) -> Req {
    let authority = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| format!("127.0.0.1:{port}"));
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let is_form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("x-www-form-urlencoded"));
    let form = if is_form {
        form_urlencoded::parse(body).into_owned().collect()
    } else {
        Vec::new()
    };
    let path = parts.uri.path().to_string();
    Req {
        method: parts.method.as_str().to_string(),
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        path,
        hostname: authority_host(&authority),
        authority,
        scheme,
        query,
        headers,
        form,
    }
}

fn recorded(req: &Req) -> RecordedRequest {
    RecordedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        host: req.hostname.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
        form: req.form.clone(),
    }
}

fn is_b2c_policy(segment: &str) -> bool {
    segment.to_ascii_lowercase().starts_with("b2c_")
}

async fn route(shared: &Shared, req: &Req) -> Reply {
    let lower: Vec<String> = req
        .segments
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let seg: Vec<&str> = lower.iter().map(String::as_str).collect();
    let raw = |i: usize| req.segments[i].clone();
    let aad = |i: usize| Endpoint::Aad { tenant: raw(i) };
    let b2c = |i: usize| Endpoint::B2c {
        tenant: raw(i),
        policy: raw(i + 1),
    };
    let get = req.method == "GET";
    let post = req.method == "POST";
    if let Some(reply) = crate::managed_identity::route(shared, req) {
        return reply;
    }

    match seg.as_slice() {
        ["metadata", "instance", "compute"] | ["metadata", "instance"] if get => {
            discovery::imds(shared, req, false).await
        }
        ["metadata", "instance", "compute", "location"] if get => {
            discovery::imds(shared, req, true).await
        }
        [_, "discovery", "instance"] if get => discovery::instance_discovery(shared, req),
        ["adfs", ".well-known", "openid-configuration"] if get => {
            discovery::openid_configuration(shared, req, &Endpoint::Adfs)
        }
        ["adfs", "discovery", "keys"] if get => discovery::jwks(shared, req, &Endpoint::Adfs),
        ["adfs", "oauth2", "token"] if post => grants::token(shared, req, &Endpoint::Adfs),
        ["adfs", "oauth2", "authorize"] if get => {
            authorize::authorize(shared, req, &Endpoint::Adfs)
        }
        [_, "v2.0", ".well-known", "openid-configuration"] if get => {
            discovery::openid_configuration(shared, req, &aad(0))
        }
        [_, p, "v2.0", ".well-known", "openid-configuration"] if get && is_b2c_policy(p) => {
            discovery::openid_configuration(shared, req, &b2c(0))
        }
        [_, "discovery", "v2.0", "keys"] if get => discovery::jwks(shared, req, &aad(0)),
        ["discovery", "v2.0", "keys"] | ["discovery", "keys"] if get => discovery::jwks(
            shared,
            req,
            &Endpoint::Aad {
                tenant: "common".into(),
            },
        ),
        [_, p, "discovery", "v2.0", "keys"] if get && is_b2c_policy(p) => {
            discovery::jwks(shared, req, &b2c(0))
        }
        [_, "oauth2", "v2.0", "token"] if post => grants::token(shared, req, &aad(0)),
        [_, p, "oauth2", "v2.0", "token"] if post && is_b2c_policy(p) => {
            grants::token(shared, req, &b2c(0))
        }
        [_, "oauth2", "v2.0", "authorize"] if get => authorize::authorize(shared, req, &aad(0)),
        [_, p, "oauth2", "v2.0", "authorize"] if get && is_b2c_policy(p) => {
            authorize::authorize(shared, req, &b2c(0))
        }
        [_, "oauth2", "v2.0", "authorize"] if post => authorize::sign_in_page_answer(shared, req),
        [_, p, "oauth2", "v2.0", "authorize"] if post && is_b2c_policy(p) => {
            authorize::sign_in_page_answer(shared, req)
        }
        ["adfs", "oauth2", "authorize"] if post => authorize::sign_in_page_answer(shared, req),
        [_, "oauth2", "v2.0", "logout"] if get || post => authorize::logout(shared, req, &aad(0)),
        [_, p, "oauth2", "v2.0", "logout"] if (get || post) && is_b2c_policy(p) => {
            authorize::logout(shared, req, &b2c(0))
        }
        ["adfs", "oauth2", "logout"] if get || post => {
            authorize::logout(shared, req, &Endpoint::Adfs)
        }
        [_, "oauth2", "v2.0", "token"] | [_, "oauth2", "v2.0", "authorize"] => {
            Reply::text(405, "Method Not Allowed")
        }
        _ => Reply::not_found(),
    }
}

fn to_response(reply: Reply) -> Response<ReplyBody> {
    let mut resp = Response::new(ReplyBody::whole(Bytes::from(reply.body)));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let headers = resp.headers_mut();
    for (k, v) in reply.headers {
        // Fault headers come from tests; silently skip anything that is not a valid header.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            headers.append(name, value);
        }
    }
    resp
}

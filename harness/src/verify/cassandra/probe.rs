//! Who a CQL endpoint leads to, asked of the node itself over one connection of its own:
//! `system.local`'s host ID, cluster name, release and addresses. The driver cannot say this
//! (it learns a node's address from `system.local.rpc_address`, which Cassandra before 4.1
//! fills with the *configured* address: `0.0.0.0` in the official image), so the session's
//! address translation is keyed by what each target answers here. The frames are the
//! scylla-cql codec's; only the exchange (STARTUP, the password login, one QUERY) is here.

use scylla_cql::frame::protocol_features::ProtocolFeatures;
use scylla_cql::frame::request::query::{Query, QueryParameters};
use scylla_cql::frame::request::{AuthResponse, SerializableRequest, Startup};
use scylla_cql::frame::response::result::ResultWithDeserializedMetadata;
use scylla_cql::frame::response::{Response, ResponseOpcode};
use scylla_cql::frame::{SerializedRequest, parse_response_body_extensions, read_response_frame};
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

/// The largest response frame a probe reads: `system.local` is one small row.
const MAX_FRAME: u32 = 1024 * 1024;

/// What a node says about itself in `system.local`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub host_id: Uuid,
    pub cluster_name: String,
    pub release_version: String,
    /// What `system.local.rpc_address` holds: the configured address before 4.1 (may be
    /// `0.0.0.0`), the broadcast RPC address from 4.1 on.
    pub rpc_address: Option<IpAddr>,
    /// The address the node's peers know it by.
    pub broadcast_address: Option<IpAddr>,
}

const LOCAL: &str = "SELECT host_id, cluster_name, release_version, rpc_address, broadcast_address FROM system.local WHERE key='local'";

/// Asks the node at the other end of `stream` who it is, logging in with `login` when it asks.
pub async fn identify<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    login: Option<(&str, &str)>,
) -> Result<Identity, String> {
    let startup = Startup {
        options: HashMap::from([(Cow::Borrowed("CQL_VERSION"), Cow::Borrowed("3.0.0"))]),
    };
    match exchange(stream, &startup).await? {
        Response::Ready => {}
        Response::Authenticate(asks) => {
            let Some((user, password)) = login else {
                return Err(format!(
                    "it asks for a login ({}) and none was given",
                    asks.authenticator_name
                ));
            };
            // SASL PLAIN, as PasswordAuthenticator takes it.
            let token = [&[0u8][..], user.as_bytes(), &[0], password.as_bytes()].concat();
            let answer = AuthResponse {
                response: Some(token),
            };
            match exchange(stream, &answer).await? {
                Response::AuthSuccess(_) => {}
                other => return Err(format!("the login was not accepted: {}", kind(&other))),
            }
        }
        other => return Err(format!("STARTUP answered with {}", kind(&other))),
    }
    let query = Query {
        contents: Cow::Borrowed(LOCAL),
        parameters: QueryParameters::default(),
    };
    let Response::Result(result) = exchange(stream, &query).await? else {
        return Err("system.local: not a result".into());
    };
    let ResultWithDeserializedMetadata::Rows((rows, _)) = result
        .deserialize_metadata()
        .map_err(|e| format!("system.local: {e}"))?
    else {
        return Err("system.local: not rows".into());
    };
    type Row = (
        Option<Uuid>,
        Option<String>,
        Option<String>,
        Option<IpAddr>,
        Option<IpAddr>,
    );
    let mut iter = rows
        .rows_iter::<Row>()
        .map_err(|e| format!("system.local: {e}"))?;
    let Some(row) = iter.next() else {
        return Err("system.local has no row".into());
    };
    let (host_id, cluster_name, release_version, rpc_address, broadcast_address) =
        row.map_err(|e| format!("system.local: {e}"))?;
    Ok(Identity {
        host_id: host_id.ok_or("system.local has no host ID")?,
        cluster_name: cluster_name.unwrap_or_default(),
        release_version: release_version.unwrap_or_default(),
        rpc_address,
        broadcast_address,
    })
}

fn kind(r: &Response) -> String {
    match r {
        Response::Error(e) => format!("error: {}", e.reason),
        other => format!("{:?}", other.to_response_kind()),
    }
}

/// Sends `request` on stream 0 and reads its answer; a server error becomes the error.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin, R: SerializableRequest>(
    stream: &mut S,
    request: &R,
) -> Result<Response, String> {
    let frame = SerializedRequest::make(request, None, false).map_err(|e| e.to_string())?;
    stream
        .write_all(frame.get_data())
        .await
        .map_err(|e| e.to_string())?;
    // The codec allocates what the header announces: read the header first and bound it.
    let mut header = [0u8; 9];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|e| format!("no CQL answer: {e}"))?;
    let length = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
    if length > MAX_FRAME {
        return Err(format!(
            "a {length}-byte answer to a {}-byte question: not a CQL server",
            frame.get_data().len()
        ));
    }
    let mut rest = (&header[..]).chain(&mut *stream);
    let (params, opcode, body) = read_response_frame(&mut rest)
        .await
        .map_err(|e| format!("not a CQL answer: {e}"))?;
    let body = parse_response_body_extensions(params.flags, None, body)
        .map_err(|e| format!("not a CQL answer: {e}"))?;
    let response = Response::deserialize(&ProtocolFeatures::default(), opcode, body.body, None)
        .map_err(|e| format!("not a CQL answer: {e}"))?;
    match response {
        Response::Error(e) if opcode == ResponseOpcode::Error => Err(e.reason),
        r => Ok(r),
    }
}

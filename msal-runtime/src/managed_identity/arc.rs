//! Azure Arc: a first GET answered 401 with `WWW-Authenticate: Basic realm=<key file>`, then the
//! same GET with `Authorization: Basic <content of the key file>`.

use super::transport::MiRequest;
use super::{
    json_object, parse_endpoint, response_error, str_field, token_from, Cx, Inner, Lifetime,
    ManagedIdentity, ManagedIdentityError, ManagedIdentityErrorKind, ManagedIdentitySource,
    RetryRule, SourceToken,
};
use crate::error::Result;
use std::path::PathBuf;

const API_VERSION: &str = "2020-06-01";
const DEFAULT_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";
/// Larger key files are refused before reading (as MSAL does).
const MAX_KEY_FILE: u64 = 4096;
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::AzureArc;

fn default_himds() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("ProgramFiles").map(|p| {
            PathBuf::from(p)
                .join("AzureConnectedMachineAgent")
                .join("himds.exe")
        })
    } else if cfg!(target_os = "linux") {
        Some(PathBuf::from("/opt/azcmagent/bin/himds"))
    } else {
        None
    }
}

fn default_key_directory() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("ProgramData").map(|p| {
            PathBuf::from(p)
                .join("AzureConnectedMachineAgent")
                .join("Tokens")
        })
    } else if cfg!(target_os = "linux") {
        Some(PathBuf::from("/var/opt/azcmagent/tokens"))
    } else {
        None
    }
}

/// Whether the Arc agent is installed (the builder's path, else the platform default).
pub(super) fn himds_present(inner: &Inner) -> bool {
    inner
        .arc_himds_path
        .clone()
        .or_else(default_himds)
        .is_some_and(|p| p.is_file())
}

fn challenge_error(message: impl Into<String>) -> crate::Error {
    ManagedIdentityError::new(
        ManagedIdentityErrorKind::ArcChallenge,
        Some(SOURCE),
        message,
    )
    .into()
}

/// The key file named by a `Basic realm=<path>` challenge: only the realm's base name is used
/// (its directory and extension are ignored, as in MSAL), inside the key folder.
fn key_file(dir: &std::path::Path, challenge: &str) -> Result<PathBuf> {
    let parts: Vec<&str> = challenge.split('=').collect();
    if parts.len() != 2 || !parts[0].eq_ignore_ascii_case("basic realm") {
        return Err(challenge_error("unrecognizable WWW-Authenticate header"));
    }
    let realm = parts[1];
    let base = realm.rsplit(['/', '\\']).next().unwrap_or(realm);
    let stem = match base.rfind('.') {
        Some(0) | None => base,
        Some(i) => &base[..i],
    };
    let stem = stem.trim_matches('"');
    if stem.is_empty() || stem.contains("..") {
        return Err(challenge_error("the challenge names no usable key file"));
    }
    Ok(dir.join(format!("{stem}.key")))
}

pub(super) async fn obtain(cx: &Cx<'_>) -> Result<SourceToken> {
    let endpoint = cx
        .inner
        .env
        .get("IDENTITY_ENDPOINT")
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let mut url = parse_endpoint(SOURCE, "IDENTITY_ENDPOINT", &endpoint)?;
    // Checked before any request (MSAL checks after the first one).
    let key_dir = cx
        .inner
        .arc_key_directory
        .clone()
        .or_else(default_key_directory)
        .ok_or_else(|| challenge_error("Azure Arc is supported on Linux and Windows only"))?;
    let selector = cx.selector(("client_id", "object_id", "msi_res_id"));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", API_VERSION);
        q.append_pair("resource", cx.resource);
        if let Some((k, v)) = &selector {
            q.append_pair(k, v);
        }
    }
    let first = MiRequest::get(url).header("Metadata", "true");
    let resp = cx
        .exchange(SOURCE, &first, "challenge", RetryRule::None, true, None)
        .await?;
    if resp.status != 401 {
        return Err(response_error(
            SOURCE,
            &resp,
            Some("invalid_request"),
            format!(
                "Azure Arc answered HTTP {} instead of the expected 401 challenge",
                resp.status
            ),
        ));
    }
    let challenge = resp
        .header("www-authenticate")
        .ok_or_else(|| challenge_error("unrecognizable WWW-Authenticate header (none sent)"))?;
    let path = key_file(&key_dir, challenge)?;
    let secret = read_key_file(path).await?;
    // A trailing newline cannot go into a header (MSAL would send it verbatim).
    let secret = secret.trim_end_matches(['\r', '\n']);

    let second = first.header("Authorization", format!("Basic {secret}"));
    let resp = cx
        .exchange(SOURCE, &second, "authorized", RetryRule::None, true, None)
        .await?;
    let m = json_object(&resp);
    let token = if resp.is_success() {
        m.as_ref().and_then(|m| token_from(m, Lifetime::ExpiresIn))
    } else {
        None
    };
    let Some(token) = token else {
        let message = m
            .as_ref()
            .and_then(|m| str_field(m, "error_description"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("Azure Arc answered HTTP {} without a token", resp.status));
        return Err(response_error(
            SOURCE,
            &resp,
            Some("invalid_request"),
            message,
        ));
    };
    // Fail closed: a user-assigned request must be echoed by the agent.
    if let (Some(selector), Some(m)) = (&selector, &m) {
        check_echo(cx, selector, m, resp.status)?;
    }
    Ok(token)
}

/// The challenge's key file, refused when over 4096 bytes (checked before reading).
async fn read_key_file(path: PathBuf) -> Result<String> {
    let path_for_read = path.clone();
    tokio::task::spawn_blocking(move || -> std::result::Result<String, String> {
        let meta = std::fs::metadata(&path_for_read).map_err(|e| e.to_string())?;
        if meta.len() > MAX_KEY_FILE {
            return Err("the key file is larger than 4096 bytes".into());
        }
        std::fs::read_to_string(&path_for_read).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| challenge_error(format!("reading the key file failed: {e}")))?
    .map_err(|e| challenge_error(format!("cannot use key file {}: {e}", path.display())))
}

/// A user-assigned request's id must come back in the token response.
fn check_echo(
    cx: &Cx<'_>,
    (param, wanted): &(String, String),
    m: &serde_json::Map<String, serde_json::Value>,
    status: u16,
) -> Result<()> {
    let names: &[&str] = match cx.identity {
        ManagedIdentity::UserAssignedResourceId(_) => &["msi_res_id", "mi_res_id"],
        _ => &[param.as_str()],
    };
    let echoed = names
        .iter()
        .filter_map(|n| str_field(m, n))
        .any(|v| v.eq_ignore_ascii_case(wanted));
    if echoed {
        return Ok(());
    }
    Err(ManagedIdentityError::new(
        ManagedIdentityErrorKind::InvalidResponse,
        Some(SOURCE),
        format!(
            "Azure Arc did not confirm the requested user-assigned managed identity \
             ({param}); the token was discarded"
        ),
    )
    .with_status(status)
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn realm_base_name_only() {
        let d = Path::new("/keys");
        assert_eq!(
            key_file(d, "Basic realm=/var/opt/azcmagent/tokens/abc.key").unwrap(),
            d.join("abc.key")
        );
        assert_eq!(
            key_file(d, "basic realm=/elsewhere/x.txt").unwrap(),
            d.join("x.key")
        );
        assert_eq!(
            key_file(d, "Basic realm=\"/p/x.key\"").unwrap(),
            d.join("x.key")
        );
        assert!(key_file(d, "Bearer realm=/p/x.key").is_err());
        assert!(key_file(d, "Basic realm=/p/x.key, other=1").is_err());
        assert!(key_file(d, "Basic  realm=/p/x.key").is_err());
    }
}

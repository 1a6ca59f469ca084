//! The `claims` request parameter: client capabilities merged into a claims challenge,
//! serialized the way MSAL Python does (`", "` and `": "` separators).

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::io;

/// Builds the `claims` parameter, or `None` when there is nothing to send.
pub(crate) fn merge(
    capabilities: &[String],
    claims_challenge: Option<&str>,
) -> Result<Option<String>> {
    let challenge = claims_challenge.map(str::trim).filter(|c| !c.is_empty());
    if capabilities.is_empty() {
        if let Some(c) = challenge {
            // Reject garbage early, but send the challenge exactly as the server wrote it.
            serde_json::from_str::<Map<String, Value>>(c).map_err(|_| {
                Error::InvalidInput("the claims challenge is not a JSON object".into())
            })?;
        }
        return Ok(challenge.map(str::to_string));
    }
    let mut root: Map<String, Value> = match challenge {
        Some(c) => serde_json::from_str(c)
            .map_err(|_| Error::InvalidInput("the claims challenge is not a JSON object".into()))?,
        None => Map::new(),
    };
    let access_token = root
        .entry("access_token")
        .or_insert_with(|| Value::Object(Map::new()));
    if !access_token.is_object() {
        *access_token = Value::Object(Map::new());
    }
    if let Value::Object(at) = access_token {
        let mut xms_cc = Map::new();
        xms_cc.insert("values".into(), Value::from(capabilities.to_vec()));
        at.insert("xms_cc".into(), Value::Object(xms_cc));
    }
    Ok(Some(python_json(&Value::Object(root))))
}

/// JSON with Python's default separators.
pub(crate) fn python_json(v: &Value) -> String {
    struct PyFormatter;
    impl serde_json::ser::Formatter for PyFormatter {
        fn begin_array_value<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            if first {
                Ok(())
            } else {
                w.write_all(b", ")
            }
        }
        fn begin_object_key<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            if first {
                Ok(())
            } else {
                w.write_all(b", ")
            }
        }
        fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            w.write_all(b": ")
        }
        // Python's `ensure_ascii=True`: anything outside ASCII becomes `\uXXXX` (UTF-16,
        // surrogate pairs above the BMP), so the bytes sent match MSAL Python's.
        fn write_string_fragment<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> io::Result<()> {
            for (i, c) in fragment.char_indices() {
                if c.is_ascii() {
                    w.write_all(&fragment.as_bytes()[i..i + 1])?;
                } else {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        write!(w, "\\u{u:04x}")?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, PyFormatter);
    serde::Serialize::serialize(v, &mut ser)
        .expect("serializing a JSON value to memory cannot fail");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_alone() {
        assert_eq!(
            merge(&["CP1".into()], None).unwrap().unwrap(),
            r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#
        );
    }

    #[test]
    fn merged_into_challenge() {
        let c = r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#;
        assert_eq!(
            merge(&["cp1".into()], Some(c)).unwrap().unwrap(),
            r#"{"access_token": {"nbf": {"essential": true, "value": "1"}, "xms_cc": {"values": ["cp1"]}}}"#
        );
    }

    #[test]
    fn non_ascii_is_escaped_like_python_json_dumps() {
        // json.dumps({"access_token": {"acrs": {"value": "é😀"}, "xms_cc": {"values": ["cp1"]}}})
        let c = r#"{"access_token":{"acrs":{"value":"é😀"}}}"#;
        assert_eq!(
            merge(&["cp1".into()], Some(c)).unwrap().unwrap(),
            r#"{"access_token": {"acrs": {"value": "\u00e9\ud83d\ude00"}, "xms_cc": {"values": ["cp1"]}}}"#
        );
    }

    #[test]
    fn existing_xms_cc_is_replaced_in_place() {
        // Python's dict.update keeps the key where it was.
        let c = r#"{"access_token":{"xms_cc":{"values":["old"]},"acrs":{"essential":true}},"id_token":{}}"#;
        assert_eq!(
            merge(&["cp1".into()], Some(c)).unwrap().unwrap(),
            r#"{"access_token": {"xms_cc": {"values": ["cp1"]}, "acrs": {"essential": true}}, "id_token": {}}"#
        );
    }

    #[test]
    fn challenge_alone_is_verbatim_and_garbage_rejected() {
        assert_eq!(
            merge(&[], Some(r#"{"a":1}"#)).unwrap().unwrap(),
            r#"{"a":1}"#
        );
        assert_eq!(merge(&[], None).unwrap(), None);
        assert!(merge(&[], Some("nope")).is_err());
    }
}

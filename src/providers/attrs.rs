//! Resolved attribute values, as providers receive them: the plan's [`Value`]s with each
//! reference replaced by the output it names and each secret pointer by the secret (which
//! keeps its redacting `Debug`). Typed getters turn a missing or mis-shaped attribute into a
//! [`ProviderError::Attribute`] naming it.

use super::ProviderError;
use crate::plan::resource::Value;
use crate::state::Secret;
use std::collections::BTreeMap;

/// One resolved attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Bool(bool),
    Int(i64),
    Str(String),
    Secret(Secret),
    List(Vec<Attr>),
    Map(Attrs),
    /// A reference whose target is not known (only when reading by identity after a lost
    /// state, before the target was found): `resource.output`.
    Unknown(String),
}

/// A resource's (or a nested map's) resolved attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attrs(pub BTreeMap<String, Attr>);

impl Attr {
    /// Resolves a plan value: `output(resource, name)` gives a referenced output,
    /// `secret(key)` a secret; either may be unknown.
    pub fn resolve(
        v: &Value,
        output: &dyn Fn(&str, &str) -> Option<String>,
        secret: &dyn Fn(&str) -> Option<Secret>,
    ) -> Attr {
        match v {
            Value::Ref(r) => match output(&r.resource, &r.output) {
                Some(s) => Attr::Str(s),
                None => Attr::Unknown(format!("{}.{}", r.resource, r.output)),
            },
            Value::Secret(s) => match secret(&s.key) {
                Some(s) => Attr::Secret(s),
                None => Attr::Unknown(format!("secret {}", s.key)),
            },
            Value::Bool(b) => Attr::Bool(*b),
            Value::Int(i) => Attr::Int(*i),
            Value::Str(s) => Attr::Str(s.clone()),
            Value::List(l) => {
                Attr::List(l.iter().map(|v| Attr::resolve(v, output, secret)).collect())
            }
            Value::Map(m) => Attr::Map(Attrs(
                m.iter()
                    .map(|(k, v)| (k.clone(), Attr::resolve(v, output, secret)))
                    .collect(),
            )),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Attr::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Attr::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&Attrs> {
        match self {
            Attr::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[Attr]> {
        match self {
            Attr::List(l) => Some(l),
            _ => None,
        }
    }
    pub fn as_secret(&self) -> Option<&Secret> {
        match self {
            Attr::Secret(s) => Some(s),
            _ => None,
        }
    }
}

impl Attrs {
    pub fn get(&self, key: &str) -> Option<&Attr> {
        self.0.get(key)
    }

    fn need<'a, T>(
        &'a self,
        key: &str,
        what: &str,
        f: impl Fn(&'a Attr) -> Option<T>,
    ) -> Result<T, ProviderError> {
        match self.0.get(key) {
            None => Err(ProviderError::Attribute(format!("{key} is missing"))),
            Some(Attr::Unknown(r)) => Err(ProviderError::Attribute(format!(
                "{key} is not known yet (waits for {r})"
            ))),
            Some(v) => f(v).ok_or_else(|| ProviderError::Attribute(format!("{key} is not {what}"))),
        }
    }

    /// A string attribute (a resolved reference is a string too).
    pub fn str(&self, key: &str) -> Result<&str, ProviderError> {
        self.need(key, "a string", Attr::as_str)
    }
    /// A string attribute, `None` when absent.
    pub fn opt_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Attr::as_str)
    }
    pub fn int(&self, key: &str) -> Result<i64, ProviderError> {
        self.need(key, "an integer", Attr::as_int)
    }
    pub fn opt_int(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(Attr::as_int)
    }
    pub fn bool(&self, key: &str) -> Result<bool, ProviderError> {
        self.need(key, "a boolean", Attr::as_bool)
    }
    pub fn secret(&self, key: &str) -> Result<&Secret, ProviderError> {
        self.need(key, "a secret", Attr::as_secret)
    }
    pub fn list(&self, key: &str) -> Result<&[Attr], ProviderError> {
        self.need(key, "a list", Attr::as_list)
    }
    pub fn map(&self, key: &str) -> Result<&Attrs, ProviderError> {
        self.need(key, "a map", Attr::as_map)
    }
    /// A list of strings.
    pub fn strs(&self, key: &str) -> Result<Vec<&str>, ProviderError> {
        self.list(key)?
            .iter()
            .map(|a| {
                a.as_str().ok_or_else(|| {
                    ProviderError::Attribute(format!("{key} is not a list of strings"))
                })
            })
            .collect()
    }
    /// A list of maps.
    pub fn maps(&self, key: &str) -> Result<Vec<&Attrs>, ProviderError> {
        self.list(key)?
            .iter()
            .map(|a| {
                a.as_map()
                    .ok_or_else(|| ProviderError::Attribute(format!("{key} is not a list of maps")))
            })
            .collect()
    }
    /// `all` or a list of strings (AWS route tables / security groups: every one of the VPC
    /// when `all`). `None` means all.
    pub fn all_or_strs(&self, key: &str) -> Result<Option<Vec<&str>>, ProviderError> {
        match self.0.get(key) {
            Some(Attr::Str(s)) if s == "all" => Ok(None),
            _ => self.strs(key).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_secrets_resolve_or_stay_unknown() {
        let v = Value::List(vec![
            Value::r("aws.vpn_gateway.x", "id"),
            Value::r("aws.vpn_gateway.y", "id"),
            Value::secret("l/0"),
        ]);
        let a = Attr::resolve(
            &v,
            &|r, o| (r == "aws.vpn_gateway.x" && o == "id").then(|| "vgw-1".to_string()),
            &|k| (k == "l/0").then(|| Secret::new("Key12345".into())),
        );
        let l = a.as_list().unwrap();
        assert_eq!(l[0], Attr::Str("vgw-1".into()));
        assert_eq!(l[1], Attr::Unknown("aws.vpn_gateway.y.id".into()));
        assert_eq!(l[2].as_secret().unwrap().expose(), "Key12345");
        assert!(!format!("{a:?}").contains("Key12345"));
    }

    #[test]
    fn getters_name_the_attribute() {
        let attrs = Attrs(BTreeMap::from([
            ("a".to_string(), Attr::Int(1)),
            ("u".to_string(), Attr::Unknown("x.id".into())),
        ]));
        assert_eq!(attrs.int("a").unwrap(), 1);
        assert!(attrs
            .str("a")
            .unwrap_err()
            .to_string()
            .contains("a is not a string"));
        assert!(attrs
            .str("b")
            .unwrap_err()
            .to_string()
            .contains("b is missing"));
        assert!(attrs
            .str("u")
            .unwrap_err()
            .to_string()
            .contains("waits for x.id"));
    }
}

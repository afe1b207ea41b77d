//! Reading the layers: built-in defaults, then the TOML file, then `CHECKBRIDGE_*` variables.
//!
//! The file is read into a TOML table and each variable is written into that table at its
//! key before anything is deserialised, so a key means the same wherever it came from and
//! every error (through `serde_path_to_error`) names the exact key. The [`lenient`]
//! deserializers exist for the same reason: a variable is always a string.

use std::path::Path;

use super::{invalid, Config, ConfigError};

impl Config {
    /// Loads defaults, then `file` (if any), then `CHECKBRIDGE_*` variables from `env`, and
    /// validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (text, path) = match file {
            Some(path) => (
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?,
                path,
            ),
            None => (String::new(), Path::new("(none)")),
        };
        Self::load_str(&text, path, env)
    }

    /// As [`Config::load`], with the file's text given; `path` names it in errors.
    pub fn load_str(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut tree = text.parse::<toml::Table>().map_err(|e| ConfigError::Toml {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("CHECKBRIDGE_") else {
                continue;
            };
            if !rest.contains("__") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut tree, &path, value).map_err(|why| invalid(path.join("."), why))?;
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(tree)).map_err(|e| {
                let key = e.path().to_string();
                // A secret's value must not reach a terminal or a log through its error
                // (an unquoted numeric client_secret is "invalid type: integer `...`").
                let secret = key
                    .rsplit('.')
                    .next()
                    .is_some_and(|last| SECRET_KEYS.contains(&last));
                let why = if secret {
                    "must be a quoted string (its value is not shown: it is a secret)".to_owned()
                } else {
                    e.into_inner().message().to_owned()
                };
                invalid(
                    if key == "." {
                        "(top level)".to_owned()
                    } else {
                        key
                    },
                    why,
                )
            })?;
        let mut config = config;
        let base = path.parent().unwrap_or(Path::new(""));
        for (key, tenant) in &mut config.tenants {
            tenant.normalize();
            tenant.compile_intake(key, base)?;
        }
        config.validate()?;
        Ok(config)
    }
}

/// Keys whose values are secrets: never echoed in an error.
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "master_key",
    "webhook_url",
    "metrics_token",
    "password",
];

fn set_path(table: &mut toml::Table, path: &[String], value: String) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".to_owned());
    };
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("{part} is not a table"))?;
    }
    current.insert(last.clone(), toml::Value::String(value));
    Ok(())
}

/// Deserializers that also take strings, because environment variables are strings.
pub(super) mod lenient {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw<T> {
        Typed(T),
        Text(String),
    }

    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match Raw::<bool>::deserialize(d)? {
            Raw::Typed(b) => Ok(b),
            Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                other => Err(serde::de::Error::custom(format!(
                    "expected true or false, got {other:?}"
                ))),
            },
        }
    }

    pub fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        boolean(d).map(Some)
    }

    pub fn unsigned<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Raw::<u64>::deserialize(d)? {
            Raw::Typed(n) => Ok(n),
            Raw::Text(s) => s.trim().parse().map_err(|_| {
                serde::de::Error::custom(format!("expected a whole number, got {s:?}"))
            }),
        }
    }

    pub fn opt_unsigned<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        unsigned(d).map(Some)
    }

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            S(String),
            I(i64),
        }
        Ok(match Any::deserialize(d)? {
            Any::S(s) => s,
            Any::I(i) => i.to_string(),
        })
    }

    fn split(s: &str) -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Raw::<Vec<String>>::deserialize(d)? {
            Raw::Typed(v) => v,
            Raw::Text(s) => split(&s),
        })
    }

    pub fn list_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
        let raw = BTreeMap::<String, Raw<Vec<String>>>::deserialize(d)?;
        Ok(raw
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Raw::Typed(v) => v,
                    Raw::Text(s) => split(&s),
                };
                (k, v)
            })
            .collect())
    }
}

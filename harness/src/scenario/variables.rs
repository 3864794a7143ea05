//! Scenario variables: resolving their definitions (`value`, or `env` with a `default`,
//! `secret`) against the environment into [`Values`].

use super::raw::VariableDef;
use crate::vars::Values;
use std::collections::BTreeMap;

/// Resolves definitions against the environment. Errors are `(variable, message)` pairs.
pub fn resolve(
    defs: &BTreeMap<String, VariableDef>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Values, Vec<(String, String)>> {
    let mut out = Values::default();
    let mut errors = vec![];
    for (name, def) in defs {
        if [&def.value, &def.default]
            .into_iter()
            .flatten()
            .any(|v| v.contains("${"))
        {
            errors.push((
                name.clone(),
                "variables are not expanded inside variables: this value holds `${`; write the text it should be (`$${` for a literal `${`)".into(),
            ));
            continue;
        }
        let value = match (&def.value, &def.env) {
            (Some(v), None) if def.default.is_none() => Some(v.clone()),
            // An empty variable counts as unset, as `${VAR:-default}` in a shell: CI systems
            // pass an unset secret or variable as the empty string.
            (None, Some(var)) => match env(var)
                .filter(|v| !v.is_empty())
                .or_else(|| def.default.clone())
            {
                Some(v) => Some(v),
                None => {
                    errors.push((
                        name.clone(),
                        format!(
                            "reads the environment variable {}, which is not set (or empty), and has no `default`",
                            crate::vars::env_name_shown(var)
                        ),
                    ));
                    None
                }
            },
            (Some(_), Some(_)) => {
                errors.push((
                    name.clone(),
                    "give either `value` or `env`, not both".into(),
                ));
                None
            }
            (Some(_), None) => {
                errors.push((name.clone(), "`default` only goes with `env`".into()));
                None
            }
            (None, None) => {
                errors.push((name.clone(), "needs a `value` or an `env`".into()));
                None
            }
        };
        if let Some(v) = value {
            if def.secret {
                out.secret.push(name.clone());
            }
            out.values.insert(name.clone(), v);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_env_with_default_and_marks_secrets() {
        let mut defs = BTreeMap::new();
        defs.insert(
            "plain".to_string(),
            VariableDef {
                value: Some("v".into()),
                ..Default::default()
            },
        );
        defs.insert(
            "pw".to_string(),
            VariableDef {
                env: Some("PW".into()),
                default: Some("d".into()),
                secret: true,
                ..Default::default()
            },
        );
        let env = |k: &str| (k == "PW").then(|| "from-env".to_string());
        let values = resolve(&defs, &env).unwrap();
        assert_eq!(values.get("pw"), Some("from-env"));
        assert_eq!(values.secret_values(), vec!["from-env".to_string()]);
        let none = |_: &str| None;
        assert_eq!(resolve(&defs, &none).unwrap().get("pw"), Some("d"));
        defs.insert(
            "missing".to_string(),
            VariableDef {
                env: Some("NOPE".into()),
                ..Default::default()
            },
        );
        assert_eq!(resolve(&defs, &none).unwrap_err()[0].0, "missing");
    }
}

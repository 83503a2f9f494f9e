//! Pure decisions for `deploy --hotswap`: whether only the Lambda's code differs
//! from what the stack runs, and how a function's running code compares with the
//! code its stack declares.

use std::collections::BTreeMap;

use base64::Engine;

/// The parameter naming the artifact: the one a hotswap may change.
pub const ARTIFACT_KEY: &str = "ArtifactKey";

/// The functions that run the artifact, by the suffix the template gives their names.
pub const FUNCTION_SUFFIXES: [&str; 2] = ["api", "worker"];

/// The functions of `stack` that run the artifact (`<stack>-api`, `<stack>-worker`).
pub fn function_names(stack: &str) -> Vec<String> {
    FUNCTION_SUFFIXES
        .iter()
        .map(|suffix| format!("{stack}-{suffix}"))
        .collect()
}

/// What the stack runs now, as far as a hotswap must know.
#[derive(Debug, Clone, Copy)]
pub struct LiveStack<'a> {
    pub status: &'a str,
    pub template_body: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
}

/// What this deploy asks for.
#[derive(Debug, Clone, Copy)]
pub struct WantedStack<'a> {
    pub template_body: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
    /// `NoEcho` parameters: the stack answers them masked, so they can't be compared.
    pub secret: &'a [&'a str],
}

/// Whether the functions' code can be swapped in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotswapDecision {
    /// Only the code differs: update the functions directly.
    Swap,
    /// Something else differs: a full deploy, for this reason.
    FullDeploy(String),
}

/// Decides between a hotswap and a full deploy (`live` is `None` without a stack).
pub fn decide(live: Option<LiveStack<'_>>, wanted: WantedStack<'_>) -> HotswapDecision {
    let Some(live) = live else {
        return HotswapDecision::FullDeploy("the stack does not exist yet".to_owned());
    };
    if !matches!(
        live.status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE"
    ) {
        return HotswapDecision::FullDeploy(format!("the stack is {}", live.status));
    }
    if live.template_body != wanted.template_body {
        return HotswapDecision::FullDeploy("the template differs from the stack's".to_owned());
    }
    let mut differing: Vec<&str> = wanted
        .parameters
        .keys()
        .chain(live.parameters.keys())
        .map(String::as_str)
        .filter(|name| *name != ARTIFACT_KEY && !wanted.secret.contains(name))
        // The `ArtifactBucket` follows the store; only the key names the code.
        .filter(|name| live.parameters.get(*name) != wanted.parameters.get(*name))
        .collect();
    differing.sort_unstable();
    differing.dedup();
    if !differing.is_empty() {
        return HotswapDecision::FullDeploy(format!(
            "parameter{} {} differ{} from the stack's",
            if differing.len() == 1 { "" } else { "s" },
            differing.join(", "),
            if differing.len() == 1 { "s" } else { "" }
        ));
    }
    if live.tags != wanted.tags {
        return HotswapDecision::FullDeploy("the stack's tags differ".to_owned());
    }
    HotswapDecision::Swap
}

/// Lambda's `CodeSha256` (base64 of the digest) for a zip whose sha256 is `hex`.
pub fn lambda_code_sha256(hex: &str) -> Option<String> {
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    (bytes.len() == 32).then(|| base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The hex sha256 of the zip a stack declares (its `ArtifactKey`, `artifacts/<sha256>.zip`).
pub fn declared_sha256(parameters: &BTreeMap<String, String>) -> Option<&str> {
    parameters
        .get(ARTIFACT_KEY)?
        .strip_prefix("artifacts/")?
        .strip_suffix(".zip")
}

/// One function whose running code is not the code its stack declares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CodeDrift {
    pub function: String,
    /// The running `CodeSha256` (base64), as Lambda reports it.
    pub running: String,
}

/// The functions (name, running `CodeSha256`) that don't run `declared_hex`.
pub fn code_drift(declared_hex: &str, running: &[(String, String)]) -> Vec<CodeDrift> {
    let declared = lambda_code_sha256(declared_hex);
    running
        .iter()
        .filter(|(_, sha)| declared.as_deref() != Some(sha.as_str()))
        .map(|(function, sha)| CodeDrift {
            function: function.clone(),
            running: sha.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn only_a_code_change_is_swapped() {
        let live_parameters = map(&[
            ("ArtifactKey", "artifacts/aa.zip"),
            ("MemorySize", "256"),
            ("OpenAiKey", "****"),
        ]);
        let new_code = map(&[
            ("ArtifactKey", "artifacts/bb.zip"),
            ("MemorySize", "256"),
            ("OpenAiKey", "sk-secret"),
        ]);
        let new_memory = map(&[
            ("ArtifactKey", "artifacts/bb.zip"),
            ("MemorySize", "512"),
            ("OpenAiKey", "sk-secret"),
        ]);
        let tags = map(&[("Environment", "dev")]);
        let other_tags = map(&[("Environment", "qa")]);
        let live = |status| LiveStack {
            status,
            template_body: "body",
            parameters: &live_parameters,
            tags: &tags,
        };
        let wanted = |body, parameters, tags| WantedStack {
            template_body: body,
            parameters,
            tags,
            secret: &["OpenAiKey"],
        };
        let cases: Vec<(Option<LiveStack<'_>>, WantedStack<'_>, Option<&str>)> = vec![
            (
                Some(live("UPDATE_COMPLETE")),
                wanted("body", &new_code, &tags),
                None,
            ),
            (
                Some(live("CREATE_COMPLETE")),
                wanted("body", &new_code, &tags),
                None,
            ),
            // The same code again: still a swap (the functions may run something else).
            (
                Some(live("UPDATE_COMPLETE")),
                wanted("body", &live_parameters, &tags),
                None,
            ),
            (
                None,
                wanted("body", &new_code, &tags),
                Some("the stack does not exist yet"),
            ),
            (
                Some(live("UPDATE_IN_PROGRESS")),
                wanted("body", &new_code, &tags),
                Some("the stack is UPDATE_IN_PROGRESS"),
            ),
            (
                Some(live("UPDATE_COMPLETE")),
                wanted("other", &new_code, &tags),
                Some("the template differs from the stack's"),
            ),
            (
                Some(live("UPDATE_COMPLETE")),
                wanted("body", &new_memory, &tags),
                Some("parameter MemorySize differs from the stack's"),
            ),
            (
                Some(live("UPDATE_COMPLETE")),
                wanted("body", &new_code, &other_tags),
                Some("the stack's tags differ"),
            ),
        ];
        for (live, wanted, expected) in cases {
            let expected = match expected {
                None => HotswapDecision::Swap,
                Some(reason) => HotswapDecision::FullDeploy(reason.to_owned()),
            };
            assert_eq!(decide(live, wanted), expected, "{live:?} {wanted:?}");
        }
    }

    #[test]
    fn code_hashes_compare_across_encodings() {
        let hex = "cb9e2153d772d40fdbb1d88bd4c6385d87155d86d34a779d0df8a5a63a63d784";
        let lambda = lambda_code_sha256(hex).unwrap();
        assert_eq!(lambda, "y54hU9dy1A/bsdiL1MY4XYcVXYbTSnedDfilpjpj14Q=");
        assert_eq!(lambda_code_sha256("zz"), None);
        assert_eq!(lambda_code_sha256("abcd"), None);
        let parameters = map(&[("ArtifactKey", &format!("artifacts/{hex}.zip"))]);
        assert_eq!(declared_sha256(&parameters), Some(hex));
        assert_eq!(declared_sha256(&map(&[("ArtifactKey", "x")])), None);
        let running = vec![
            ("s-api".to_owned(), lambda.clone()),
            ("s-worker".to_owned(), "other=".to_owned()),
        ];
        assert_eq!(
            code_drift(hex, &running),
            [CodeDrift {
                function: "s-worker".to_owned(),
                running: "other=".to_owned()
            }]
        );
        assert!(code_drift(hex, &running[..1]).is_empty());
    }
}

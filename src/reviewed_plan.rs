//! A reviewed plan: what `pixelctl plan --out` writes and `pixelctl apply` executes
//! exactly, and the pure check that the stack and the change set are still the ones
//! reviewed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aws::{ReviewedChangeSet, StackDescription};
use crate::digest::sha256_hex;
use crate::release::ArtifactRef;

/// The plan file's format version.
pub const FORMAT: u32 = 1;

/// What a plan was made from, and the change set that applies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewedPlan {
    pub format: u32,
    pub environment: String,
    pub stack_name: String,
    pub region: String,
    pub change_set_name: String,
    pub change_set_id: String,
    /// A `CREATE` change set (the stack did not exist).
    pub create: bool,
    pub artifact: ArtifactRef,
    pub template_sha256: String,
    /// Of the parameter values without the secret ones.
    pub parameters_sha256: String,
    /// The stack as the plan saw it (`None`: no stack yet).
    pub stack: Option<StackMarker>,
    /// The plan as shown (resources, parameters); in the file only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
}

/// The stack's last change: any operation on it since the plan changes one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackMarker {
    pub status: String,
    pub last_changed: Option<String>,
    /// The change set its last operation executed.
    pub change_set_id: Option<String>,
}

impl StackMarker {
    pub fn of(stack: &StackDescription) -> Self {
        Self {
            status: stack.status.clone(),
            last_changed: stack
                .last_changed
                .map(|time| humantime::format_rfc3339_millis(time).to_string()),
            change_set_id: stack.change_set_id.clone(),
        }
    }
}

/// The hash of the parameter values a plan names, secret ones left out.
pub fn parameters_sha256(values: &BTreeMap<String, String>, secret: &[&str]) -> String {
    let shown: BTreeMap<&String, &String> = values
        .iter()
        .filter(|(key, _)| !secret.contains(&key.as_str()))
        .collect();
    sha256_hex(serde_json::to_string(&shown).unwrap_or_default().as_bytes())
}

/// Whether `plan` may still be applied to the stack as it is now (`live`) with the
/// change set CloudFormation has (`change_set`); the refusal says what changed. Pure.
pub fn check(
    plan: &ReviewedPlan,
    live: Option<&StackMarker>,
    change_set: Option<&ReviewedChangeSet>,
) -> Result<(), String> {
    let again = format!(
        "plan again (`pixelctl plan {} --out plan.json`) and review the new plan",
        plan.environment
    );
    let stack_moved = match (&plan.stack, live) {
        // A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS.
        (None, Some(live)) => live.status != "REVIEW_IN_PROGRESS",
        (None, None) => false,
        (Some(_), None) => true,
        (Some(seen), Some(live)) => seen != live,
    };
    if stack_moved {
        let describe = |marker: Option<&StackMarker>| match marker {
            None => "no stack".to_owned(),
            Some(marker) => format!(
                "{}{}",
                marker.status,
                marker
                    .last_changed
                    .as_deref()
                    .map(|when| format!(", last changed {when}"))
                    .unwrap_or_default()
            ),
        };
        return Err(format!(
            "stack {} changed since the plan (the plan saw {}; it is now {}): the change set no longer describes \
             what it would do; {again}",
            plan.stack_name,
            describe(plan.stack.as_ref()),
            describe(live)
        ));
    }
    let Some(change_set) = change_set else {
        return Err(format!(
            "change set {} of {} is gone (deleted, or removed when another change set was executed); {again}",
            plan.change_set_name, plan.stack_name
        ));
    };
    if change_set.status != "CREATE_COMPLETE" || change_set.execution_status != "AVAILABLE" {
        return Err(format!(
            "change set {} of {} cannot be executed (status {}, execution status {}); {again}",
            plan.change_set_name, plan.stack_name, change_set.status, change_set.execution_status
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(status: &str, when: &str) -> StackMarker {
        StackMarker {
            status: status.to_owned(),
            last_changed: Some(when.to_owned()),
            change_set_id: Some("cs-1".to_owned()),
        }
    }

    fn change_set(status: &str, execution: &str) -> ReviewedChangeSet {
        ReviewedChangeSet {
            name: "pixelctl-1".to_owned(),
            status: status.to_owned(),
            execution_status: execution.to_owned(),
            parameters: BTreeMap::new(),
        }
    }

    /// A plan, the stack now, the change set now, and the refusal expected (`None`: applies).
    type Case<'a> = (
        &'a ReviewedPlan,
        Option<&'a StackMarker>,
        Option<&'a ReviewedChangeSet>,
        Option<&'a str>,
    );

    fn plan(stack: Option<StackMarker>) -> ReviewedPlan {
        ReviewedPlan {
            format: FORMAT,
            environment: "prod".to_owned(),
            stack_name: "pixel-prompt-prod".to_owned(),
            region: "us-west-2".to_owned(),
            change_set_name: "pixelctl-1".to_owned(),
            change_set_id: "arn:cs".to_owned(),
            create: stack.is_none(),
            artifact: ArtifactRef {
                bucket: "b".to_owned(),
                key: "artifacts/a.zip".to_owned(),
                sha256: "a".to_owned(),
            },
            template_sha256: "t".to_owned(),
            parameters_sha256: "p".to_owned(),
            stack,
            plan: None,
        }
    }

    #[test]
    fn a_plan_applies_only_to_the_stack_and_change_set_it_saw() {
        let seen = marker("UPDATE_COMPLETE", "2026-11-29T10:00:00.000Z");
        let later = marker("UPDATE_COMPLETE", "2026-11-29T11:00:00.000Z");
        let review = marker("REVIEW_IN_PROGRESS", "2026-11-29T10:00:00.000Z");
        let ready = change_set("CREATE_COMPLETE", "AVAILABLE");
        let executed = change_set("CREATE_COMPLETE", "EXECUTE_COMPLETE");
        let update = plan(Some(seen.clone()));
        let create = plan(None);
        let cases: Vec<Case<'_>> = vec![
            (&update, Some(&seen), Some(&ready), None),
            (&create, Some(&review), Some(&ready), None),
            (
                &update,
                Some(&later),
                Some(&ready),
                Some("changed since the plan"),
            ),
            (&update, None, Some(&ready), Some("it is now no stack")),
            (
                &create,
                Some(&later),
                Some(&ready),
                Some("the plan saw no stack"),
            ),
            (&update, Some(&seen), None, Some("is gone")),
            (
                &update,
                Some(&seen),
                Some(&executed),
                Some("execution status EXECUTE_COMPLETE"),
            ),
        ];
        for (plan, live, change_set, expected) in cases {
            let result = check(plan, live, change_set);
            match expected {
                None => assert_eq!(result, Ok(()), "{live:?}"),
                Some(text) => {
                    let message = result.unwrap_err();
                    assert!(message.contains(text), "{message}");
                    assert!(
                        message.contains("pixelctl plan prod --out plan.json"),
                        "{message}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_parameters_hash_leaves_secrets_out() {
        let mut values = BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("Key".to_owned(), "sk-1".to_owned()),
        ]);
        let first = parameters_sha256(&values, &["Key"]);
        values.insert("Key".to_owned(), "sk-2".to_owned());
        assert_eq!(parameters_sha256(&values, &["Key"]), first);
        values.insert("A".to_owned(), "2".to_owned());
        assert_ne!(parameters_sha256(&values, &["Key"]), first);
        assert_eq!(sha256_hex(b"").len(), 64);
    }
}

//! The CloudFormation stack policy behind a protected environment's guard: the
//! images bucket, the distribution and the log groups can't be replaced or
//! removed by any update, pixelctl's or anyone's, except those `--allow-replace`
//! names, for that one update.

use serde_json::{Value, json};

use crate::plan::STATEFUL_TYPES;

/// The policy a protected stack carries: every update allowed, except replacing
/// or removing a resource of a stateful type other than those `lifted` names
/// (logical ids). Pure.
pub fn guard(lifted: &[String]) -> String {
    let mut deny = json!({
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["Update:Replace", "Update:Delete"],
        "Condition": {"StringEquals": {"ResourceType": STATEFUL_TYPES}},
    });
    if lifted.is_empty() {
        deny["Resource"] = json!("*");
    } else {
        let named: Vec<String> = lifted
            .iter()
            .map(|logical_id| format!("LogicalResourceId/{logical_id}"))
            .collect();
        deny["NotResource"] = json!(named);
    }
    policy(&[allow_all_statement(), deny])
}

/// The policy of a stack that is not protected (any more): every update allowed.
/// CloudFormation can't remove a stack policy, only replace it. Pure.
pub fn allow_all() -> String {
    policy(&[allow_all_statement()])
}

fn allow_all_statement() -> Value {
    json!({"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"})
}

fn policy(statements: &[Value]) -> String {
    json!({ "Statement": statements }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_denies_stateful_losses_except_the_lifted_ones() {
        let cases: [(&[&str], Value); 3] = [
            (&[], json!({"Resource": "*"})),
            (
                &["ImagesBucket"],
                json!({"NotResource": ["LogicalResourceId/ImagesBucket"]}),
            ),
            (
                &["ApiAccessLogGroup", "Distribution"],
                json!({"NotResource": [
                    "LogicalResourceId/ApiAccessLogGroup",
                    "LogicalResourceId/Distribution"
                ]}),
            ),
        ];
        for (lifted, target) in cases {
            let lifted: Vec<String> = lifted.iter().map(|id| (*id).to_owned()).collect();
            let policy: Value = serde_json::from_str(&guard(&lifted)).unwrap_or_default();
            let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
            assert_eq!(statements.len(), 2, "{policy}");
            assert_eq!(statements[0], allow_all_statement());
            let deny = &statements[1];
            assert_eq!(deny["Effect"], "Deny");
            assert_eq!(deny["Action"], json!(["Update:Replace", "Update:Delete"]));
            assert_eq!(
                deny["Condition"]["StringEquals"]["ResourceType"],
                json!([
                    "AWS::S3::Bucket",
                    "AWS::CloudFront::Distribution",
                    "AWS::Logs::LogGroup"
                ])
            );
            for (key, value) in target.as_object().into_iter().flatten() {
                assert_eq!(&deny[key], value, "{policy}");
            }
            let other = if lifted.is_empty() {
                "NotResource"
            } else {
                "Resource"
            };
            assert!(deny.get(other).is_none(), "{policy}");
        }
    }

    #[test]
    fn an_unprotected_stack_allows_every_update() {
        let policy: Value = serde_json::from_str(&allow_all()).unwrap_or_default();
        assert_eq!(policy, json!({"Statement": [allow_all_statement()]}));
    }
}

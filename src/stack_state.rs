//! Pure decisions about a stack's status: what a deploy or a rollback must do
//! first, and what a finished operation means. A table of states drives each.

use crate::aws::StackEvent;

/// What a deploy does about the stack it finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// No stack: create it with a `CREATE` change set.
    Create,
    /// A stack exists with resources: update it with an `UPDATE` change set.
    Update,
    /// An earlier run created the stack but never executed its change set;
    /// it holds no resources and takes a `CREATE` change set.
    CreateFromReview,
    /// Another operation runs: wait for it to settle, then decide again.
    WaitForSettle,
    /// The first create failed and rolled back: the stack can only be deleted,
    /// then created anew.
    DeleteFailedCreate,
    /// An update's rollback failed: `ContinueUpdateRollback` must finish it.
    ContinueRollback,
    /// pixelctl can't safely act; the message says what to do.
    Refuse(String),
}

/// Decides what to do with a stack in `status` (`None`: no such stack).
pub fn preflight(status: Option<&str>) -> Preflight {
    let Some(status) = status else {
        return Preflight::Create;
    };
    match status {
        "DELETE_COMPLETE" => Preflight::Create,
        "REVIEW_IN_PROGRESS" => Preflight::CreateFromReview,
        "ROLLBACK_COMPLETE" => Preflight::DeleteFailedCreate,
        "UPDATE_ROLLBACK_FAILED" => Preflight::ContinueRollback,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE"
        | "IMPORT_ROLLBACK_COMPLETE" | "UPDATE_FAILED" => Preflight::Update,
        "ROLLBACK_FAILED" | "CREATE_FAILED" => Preflight::Refuse(format!(
            "the stack is in {status}: its first create failed and so did the cleanup; delete it \
             (`pixelctl destroy`, or the CloudFormation console, retaining what can't be deleted) and deploy again"
        )),
        "DELETE_FAILED" => Preflight::Refuse(
            "the stack is in DELETE_FAILED: a delete could not remove every resource; retry the delete \
             (retaining the resources that failed) before deploying again"
                .to_owned(),
        ),
        "IMPORT_ROLLBACK_FAILED" => Preflight::Refuse(
            "the stack is in IMPORT_ROLLBACK_FAILED; resolve the import in the CloudFormation console first"
                .to_owned(),
        ),
        other if other.ends_with("_IN_PROGRESS") => Preflight::WaitForSettle,
        other => Preflight::Refuse(format!(
            "the stack is in {other}, a state pixelctl does not know how to deploy over"
        )),
    }
}

/// Whether a stack in `status` runs what it declares (its template and parameters),
/// so an unchanged template and parameters mean "no changes" without a change set.
/// Not after a failed express update (`UPDATE_FAILED`): the stack declares the new
/// settings while the resources that failed keep their old ones.
pub fn runs_what_it_declares(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE"
    )
}

/// What `pixelctl rollback` does about a stack in `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackAction {
    /// An update runs: cancel it; it rolls back as that same operation.
    CancelUpdate,
    /// An update's rollback failed: `ContinueUpdateRollback` finishes it.
    ContinueRollback,
    /// Another operation runs; the message says to wait for it.
    Refuse(String),
    /// The stack is settled: deploy the previous release again.
    DeployRelease,
}

/// Decides what `rollback` does with a stack in `status`.
pub fn rollback(stack: &str, status: &str) -> RollbackAction {
    match status {
        "UPDATE_IN_PROGRESS" => RollbackAction::CancelUpdate,
        "UPDATE_ROLLBACK_FAILED" => RollbackAction::ContinueRollback,
        status if status.ends_with("_IN_PROGRESS") => RollbackAction::Refuse(format!(
            "stack `{stack}` is {status}; wait for it to settle (pixelctl deploy waits and shows its events), then roll back"
        )),
        _ => RollbackAction::DeployRelease,
    }
}

/// How a stack operation ended, read from the status it settled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Still going.
    InProgress,
    /// The operation did what was asked.
    Succeeded,
    /// The operation failed and CloudFormation undid it.
    RolledBack,
    /// The operation failed and the stack needs attention.
    Failed,
}

pub fn settled(status: &str) -> Settled {
    match status {
        status if status.ends_with("_IN_PROGRESS") => Settled::InProgress,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "DELETE_COMPLETE" | "IMPORT_COMPLETE" => {
            Settled::Succeeded
        }
        "ROLLBACK_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_ROLLBACK_COMPLETE" => {
            Settled::RolledBack
        }
        _ => Settled::Failed,
    }
}

/// Whether a stack event's status marks a resource that failed.
pub fn is_failure_event(status: &str) -> bool {
    status.ends_with("_FAILED")
}

/// The resources whose rollback failed: `UPDATE_FAILED` events after the stack's last
/// `UPDATE_ROLLBACK_IN_PROGRESS` (`events` oldest first), each once, with its latest
/// reason. Only these may be named in `ContinueUpdateRollback`'s `ResourcesToSkip`: AWS
/// refuses a resource that failed for another reason, such as one a cancelled update
/// left `UPDATE_FAILED`.
pub fn rollback_failures(events: &[StackEvent]) -> Vec<&StackEvent> {
    let start = events
        .iter()
        .rposition(|event| event.is_stack() && event.status == "UPDATE_ROLLBACK_IN_PROGRESS");
    let Some(start) = start else {
        return Vec::new();
    };
    let mut failures: Vec<&StackEvent> = Vec::new();
    for event in &events[start + 1..] {
        if event.is_stack() || event.status != "UPDATE_FAILED" {
            continue;
        }
        failures.retain(|earlier| earlier.logical_id != event.logical_id);
        failures.push(event);
    }
    failures
}

/// What to do about a stack left in `UPDATE_ROLLBACK_FAILED`: the failures, why it will
/// not go away by itself, and the `--skip` choice naming only the resources whose
/// rollback failed.
pub fn rollback_failed_advice(stack: &str, env: &str, failures: &[&StackEvent]) -> String {
    let mut advice = String::new();
    for failure in failures {
        advice.push_str(&format!(
            "\n  {} {} ({}) during the rollback: {}",
            failure.status,
            failure.logical_id,
            failure.resource_type,
            failure.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    if failures.is_empty() {
        advice.push_str(&format!(
            "\n  the events do not say which resource's rollback failed: aws cloudformation describe-stack-events --stack-name {stack}"
        ));
        return advice;
    }
    let skips: Vec<String> = failures
        .iter()
        .map(|failure| format!("--skip {}", failure.logical_id))
        .collect();
    advice.push_str(&format!(
        "\n  a failed rollback fails again until its cause is fixed (often a resource changed or deleted outside CloudFormation):\n  \
         fix it, then run `pixelctl rollback {env}`; or leave {} as {} now and finish the rollback: pixelctl rollback {env} {}",
        if failures.len() == 1 { "it" } else { "them" },
        if failures.len() == 1 { "it is" } else { "they are" },
        skips.join(" ")
    ));
    advice
}

/// Marks a change set `--no-execute` kept for review, in its description.
pub const KEPT_FOR_REVIEW: &str = " (kept for review)";

/// Which of pixelctl's change sets a new deploy removes: only `FAILED` ones, which
/// nothing can execute. One being created is another run's; an `AVAILABLE` one waits for
/// a review (`--no-execute`) or another run's confirmation, and executing any change set
/// removes the others anyway.
pub fn stale_change_sets(change_sets: &[crate::aws::ChangeSetSummary]) -> Vec<&str> {
    change_sets
        .iter()
        .filter(|change_set| change_set.status == "FAILED")
        .map(|change_set| change_set.name.as_str())
        .collect()
}

/// Whether a failed change set only means "nothing to change", which is success.
pub fn is_empty_change_set(status_reason: &str) -> bool {
    status_reason.contains("didn't contain changes")
        || status_reason.contains("No updates are to be performed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_decides_per_state() {
        let cases: &[(Option<&str>, Preflight)] = &[
            (None, Preflight::Create),
            (Some("DELETE_COMPLETE"), Preflight::Create),
            (Some("REVIEW_IN_PROGRESS"), Preflight::CreateFromReview),
            (Some("CREATE_COMPLETE"), Preflight::Update),
            (Some("UPDATE_COMPLETE"), Preflight::Update),
            (Some("UPDATE_ROLLBACK_COMPLETE"), Preflight::Update),
            (Some("CREATE_IN_PROGRESS"), Preflight::WaitForSettle),
            (Some("UPDATE_IN_PROGRESS"), Preflight::WaitForSettle),
            (
                Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
                Preflight::WaitForSettle,
            ),
            (
                Some("UPDATE_ROLLBACK_IN_PROGRESS"),
                Preflight::WaitForSettle,
            ),
            (Some("ROLLBACK_IN_PROGRESS"), Preflight::WaitForSettle),
            (Some("DELETE_IN_PROGRESS"), Preflight::WaitForSettle),
            (Some("ROLLBACK_COMPLETE"), Preflight::DeleteFailedCreate),
            (Some("UPDATE_ROLLBACK_FAILED"), Preflight::ContinueRollback),
        ];
        for (status, expected) in cases {
            assert_eq!(&preflight(*status), expected, "{status:?}");
        }
        for status in [
            "ROLLBACK_FAILED",
            "CREATE_FAILED",
            "DELETE_FAILED",
            "SOMETHING_NEW",
        ] {
            assert!(
                matches!(preflight(Some(status)), Preflight::Refuse(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn only_a_settled_success_runs_what_it_declares() {
        for (status, expected) in [
            ("CREATE_COMPLETE", true),
            ("UPDATE_COMPLETE", true),
            ("UPDATE_ROLLBACK_COMPLETE", true),
            ("UPDATE_FAILED", false),
            ("UPDATE_IN_PROGRESS", false),
            ("UPDATE_ROLLBACK_FAILED", false),
        ] {
            assert_eq!(runs_what_it_declares(status), expected, "{status}");
        }
    }

    #[test]
    fn rollback_decides_per_state() {
        let cases = [
            ("UPDATE_IN_PROGRESS", RollbackAction::CancelUpdate),
            ("UPDATE_ROLLBACK_FAILED", RollbackAction::ContinueRollback),
            ("UPDATE_COMPLETE", RollbackAction::DeployRelease),
            ("UPDATE_ROLLBACK_COMPLETE", RollbackAction::DeployRelease),
            ("CREATE_COMPLETE", RollbackAction::DeployRelease),
            ("UPDATE_FAILED", RollbackAction::DeployRelease),
        ];
        for (status, expected) in cases {
            assert_eq!(rollback("s", status), expected, "{status}");
        }
        for status in [
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "CREATE_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
        ] {
            match rollback("s", status) {
                RollbackAction::Refuse(message) => assert!(message.contains(status), "{message}"),
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    #[test]
    fn settled_reads_final_states() {
        let cases = [
            ("CREATE_IN_PROGRESS", Settled::InProgress),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", Settled::InProgress),
            ("CREATE_COMPLETE", Settled::Succeeded),
            ("UPDATE_COMPLETE", Settled::Succeeded),
            ("ROLLBACK_COMPLETE", Settled::RolledBack),
            ("UPDATE_ROLLBACK_COMPLETE", Settled::RolledBack),
            ("UPDATE_ROLLBACK_FAILED", Settled::Failed),
            ("ROLLBACK_FAILED", Settled::Failed),
        ];
        for (status, expected) in cases {
            assert_eq!(settled(status), expected, "{status}");
        }
    }

    fn event(logical_id: &str, resource_type: &str, status: &str, reason: &str) -> StackEvent {
        StackEvent {
            id: format!("{logical_id}-{status}"),
            timestamp: std::time::SystemTime::UNIX_EPOCH,
            logical_id: logical_id.to_owned(),
            resource_type: resource_type.to_owned(),
            status: status.to_owned(),
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
            client_request_token: None,
        }
    }

    #[test]
    fn only_failed_change_sets_are_stale() {
        let summary = |name: &str, status: &str, execution: &str| crate::aws::ChangeSetSummary {
            name: name.to_owned(),
            status: status.to_owned(),
            execution_status: execution.to_owned(),
            description: None,
        };
        let sets = [
            summary("pixelctl-1-failed", "FAILED", "UNAVAILABLE"),
            summary("pixelctl-2-creating", "CREATE_IN_PROGRESS", "UNAVAILABLE"),
            summary("pixelctl-3-pending", "CREATE_PENDING", "UNAVAILABLE"),
            summary("pixelctl-4-review", "CREATE_COMPLETE", "AVAILABLE"),
            summary("pixelctl-5-done", "CREATE_COMPLETE", "EXECUTE_COMPLETE"),
        ];
        assert_eq!(stale_change_sets(&sets), ["pixelctl-1-failed"]);
    }

    #[test]
    fn only_resources_whose_rollback_failed_may_be_skipped() {
        let stack = "AWS::CloudFormation::Stack";
        let alarm = "AWS::CloudWatch::Alarm";
        let events = vec![
            event("s", stack, "UPDATE_IN_PROGRESS", "User Initiated"),
            event("ErrorsAlarm", alarm, "UPDATE_COMPLETE", ""),
            // Failed the update, or was left UPDATE_FAILED by a cancel: not skippable.
            event("DurationAlarm", alarm, "UPDATE_FAILED", "boom"),
            event(
                "s",
                stack,
                "UPDATE_ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to update",
            ),
            event("ErrorsAlarm", alarm, "UPDATE_FAILED", "stuck"),
            event("s", stack, "UPDATE_ROLLBACK_FAILED", ""),
            // A continued rollback: only its own failures count.
            event("s", stack, "UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated"),
            event("ErrorsAlarm", alarm, "UPDATE_FAILED", "still stuck"),
            event("Function", "AWS::Lambda::Function", "UPDATE_FAILED", "gone"),
            event("ErrorsAlarm", alarm, "UPDATE_FAILED", "stuck again"),
            event("s", stack, "UPDATE_ROLLBACK_FAILED", ""),
        ];
        let failures = rollback_failures(&events);
        let named: Vec<(&str, Option<&str>)> = failures
            .iter()
            .map(|failure| (failure.logical_id.as_str(), failure.reason.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                ("Function", Some("gone")),
                ("ErrorsAlarm", Some("stuck again"))
            ]
        );
        let advice = rollback_failed_advice("pixel-prompt-dev", "dev", &failures);
        assert!(
            advice.ends_with("pixelctl rollback dev --skip Function --skip ErrorsAlarm"),
            "{advice}"
        );
        assert!(!advice.contains("DurationAlarm"), "{advice}");
        assert!(rollback_failures(&events[..3]).is_empty());
        assert!(
            rollback_failed_advice("pixel-prompt-dev", "dev", &[])
                .contains("describe-stack-events --stack-name pixel-prompt-dev")
        );
    }

    #[test]
    fn empty_change_set_reasons_are_recognised() {
        assert!(is_empty_change_set(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_empty_change_set("No updates are to be performed."));
        assert!(!is_empty_change_set(
            "Template format error: Unresolved resource dependencies"
        ));
    }
}

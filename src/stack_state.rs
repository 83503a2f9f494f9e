//! Pure decisions about a stack's status: what a deploy must do first, and
//! what a finished operation means. A table of states drives both.

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

//! Whether the account can give the functions (the API and the worker, counted
//! together) the reserved concurrency an environment asks for: Lambda keeps at least 10 of an account's concurrent executions unreserved
//! and refuses a reservation that would eat into them, which fails a first create on a
//! new account (quota 10 or 50). Pure: the numbers come from `GetAccountSettings`.

/// Lambda never lets reservations leave fewer unreserved executions than this.
pub const MINIMUM_UNRESERVED: u32 = 10;

/// `GetAccountSettings`' `AccountLimit`, for the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountConcurrency {
    /// `ConcurrentExecutions`: the account's quota in the region.
    pub limit: u32,
    /// `UnreservedConcurrentExecutions`: what reservations leave.
    pub unreserved: u32,
}

/// A reservation Lambda would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationProblem {
    pub wanted: u32,
    pub account: AccountConcurrency,
    /// The most the function could reserve now (0: none at all).
    pub at_most: u32,
}

/// Checks reservations of `wanted` in all for functions that reserve `current` now.
pub fn reservation_problem(
    account: AccountConcurrency,
    current: u32,
    wanted: u32,
) -> Option<ReservationProblem> {
    if wanted == 0 || wanted <= current {
        return None;
    }
    let available = account.unreserved.saturating_add(current);
    if available >= wanted.saturating_add(MINIMUM_UNRESERVED) {
        return None;
    }
    Some(ReservationProblem {
        wanted,
        account,
        at_most: available.saturating_sub(MINIMUM_UNRESERVED),
    })
}

impl ReservationProblem {
    /// What went wrong and what to do, for environment `env` in `region`.
    pub fn message(&self, env: &str, region: &str) -> String {
        let lower = if self.at_most == 0 {
            "this account has no concurrency to spare: set `lambda.reserved_concurrency: 0` and \
             `worker.reserved_concurrency: 0` (no reservations)"
                .to_owned()
        } else {
            format!(
                "lower `lambda.reserved_concurrency` plus `worker.reserved_concurrency` to at most {} \
                 together (0 is no reservation)",
                self.at_most
            )
        };
        format!(
            "Lambda would refuse the reserved concurrency of {wanted} for the API and the worker together: \
             the account's quota in {region} is {limit} concurrent executions, {unreserved} of them \
             unreserved, and Lambda keeps at least {MINIMUM_UNRESERVED} unreserved. Nothing was changed.\n  \
             either {lower} in environments/{env}.yaml,\n  \
             or ask for more: Service Quotas > AWS Lambda > Concurrent executions (new accounts start at 10 or 50), then deploy again",
            wanted = self.wanted,
            limit = self.account.limit,
            unreserved = self.account.unreserved,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_must_leave_ten_unreserved() {
        let account = |limit, unreserved| AccountConcurrency { limit, unreserved };
        // (account, current reservation, wanted, refused with at most)
        let cases = [
            (account(1000, 1000), 0, 50, None),
            (account(10, 10), 0, 5, Some(0)),
            (account(50, 50), 0, 50, Some(40)),
            (account(50, 50), 0, 40, None),
            (account(50, 50), 0, 41, Some(40)),
            // The function's own reservation is given back before the new one is taken.
            (account(50, 30), 20, 40, None),
            (account(50, 30), 20, 45, Some(40)),
            // No reservation, or less than now, never fails.
            (account(10, 10), 0, 0, None),
            (account(20, 10), 10, 5, None),
        ];
        for (account, current, wanted, expected) in cases {
            let found =
                reservation_problem(account, current, wanted).map(|problem| problem.at_most);
            assert_eq!(
                found, expected,
                "{account:?} current {current} wanted {wanted}"
            );
        }
        let problem = reservation_problem(account(10, 10), 0, 5).unwrap_or_else(|| unreachable!());
        let message = problem.message("dev", "us-west-2");
        assert!(
            message.contains("quota in us-west-2 is 10 concurrent executions"),
            "{message}"
        );
        assert!(
            message.contains("`lambda.reserved_concurrency: 0`"),
            "{message}"
        );
        assert!(message.contains("Service Quotas"), "{message}");
    }
}

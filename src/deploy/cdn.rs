//! Step 8: wait until CloudFront has deployed the distribution.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::aws::Aws;
use crate::progress::{Event, Progress};

/// Waits until `distribution` reports `Deployed`, or fails after `timeout`.
pub async fn wait_for_distribution(
    aws: &Aws,
    distribution: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let what = format!("waiting for CloudFront distribution {distribution} to deploy");
    let mut status = aws.distribution_status(distribution).await?;
    if status == "Deployed" {
        return Ok(started.elapsed());
    }
    progress.step("Waiting for CloudFront");
    progress.report(Event::WaitStarted(&what));
    let mut delay = Duration::from_secs(1);
    while status != "Deployed" {
        if started.elapsed() >= timeout {
            progress.report(Event::WaitFinished);
            bail!(
                "CloudFront distribution {distribution} is still {status} after {}s; the stack itself is deployed. \
                 Check again later with `pixelctl outputs`, or wait longer with --cdn-timeout",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(delay.min(timeout.saturating_sub(started.elapsed()))).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(15));
        status = aws.distribution_status(distribution).await?;
        progress.report(Event::WaitTick {
            what: &format!("{what} (status {status})"),
            elapsed: started.elapsed(),
        });
    }
    progress.report(Event::WaitFinished);
    progress.note(&format!(
        "distribution {distribution} deployed after {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(started.elapsed())
}

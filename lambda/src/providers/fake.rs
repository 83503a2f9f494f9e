//! The built-in fake provider for local development: placeholder PNGs after a short
//! delay, so the frontend works with no API key. Results are flagged `fake: true`.

use std::time::Duration;

use crate::config::ModelSpec;
use crate::image;

#[derive(Debug, Clone)]
pub struct FakeProvider {
    /// Simulated generation time.
    pub delay: Duration,
    /// Width and height of the placeholder, in pixels.
    pub size: u32,
}

impl Default for FakeProvider {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(1500),
            size: 256,
        }
    }
}

impl FakeProvider {
    pub async fn generate(&self, spec: &ModelSpec, prompt: &str) -> Vec<u8> {
        tokio::time::sleep(self.delay).await;
        tracing::info!(model = %spec.name, fake = true, "fake provider made a placeholder image");
        image::placeholder_png(&format!("{}|{prompt}", spec.name), self.size)
    }
}

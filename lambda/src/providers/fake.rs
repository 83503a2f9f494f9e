//! The built-in fake provider for local development: placeholder PNGs after a short
//! delay, so the frontend works with no API key. Results are flagged `fake: true`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::ModelSpec;
use crate::image;

/// Placeholders kept per model, so a busy local server does not re-encode them.
const CACHE_LIMIT: usize = 64;

#[derive(Debug, Clone)]
pub struct FakeProvider {
    /// Simulated generation time.
    pub delay: Duration,
    /// Width and height of the placeholder, in pixels.
    pub size: u32,
    cache: Arc<Mutex<HashMap<String, Arc<Vec<u8>>>>>,
}

impl Default for FakeProvider {
    fn default() -> Self {
        Self::new(Duration::from_millis(1500), 256)
    }
}

impl FakeProvider {
    pub fn new(delay: Duration, size: u32) -> Self {
        Self {
            delay,
            size,
            cache: Arc::default(),
        }
    }

    /// A placeholder for the model (one picture per model name).
    pub async fn generate(&self, spec: &ModelSpec, _prompt: &str) -> Vec<u8> {
        tokio::time::sleep(self.delay).await;
        tracing::info!(model = %spec.name, fake = true, "fake provider made a placeholder image");
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(&spec.name).cloned());
        if let Some(png) = cached {
            return png.to_vec();
        }
        let png = Arc::new(image::placeholder_png(&spec.name, self.size));
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(spec.name.clone(), Arc::clone(&png));
        }
        png.to_vec()
    }
}

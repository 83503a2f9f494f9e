//! pixelctl: deploys the Pixel Prompt stack.
fn main() {}

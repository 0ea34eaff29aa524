//! What the benchmarks share: medians, and PyTorch's figures from a script in scripts/bench.
// Each benchmark compiles this module and uses only part of it.
#![allow(dead_code)]

use serde::de::DeserializeOwned;
use std::process::Command;
use std::time::Instant;

/// The median time of `runs` calls of `run` in milliseconds, after one untimed warm-up call.
pub fn median_ms(runs: usize, mut run: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    run()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        run()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or_default())
}

/// Runs `scripts/bench/<script>` with the Python in `$TEMPOKD_PYTHON` (default `python3`) and
/// parses one JSON object per line of its output.
pub fn python_json_lines<T: DeserializeOwned>(
    script: &str,
    args: &[String],
) -> Result<Vec<T>, String> {
    let python = std::env::var("TEMPOKD_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = format!("{}/../scripts/bench/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no output");
        return Err(format!("{python} {script}: {last}"));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).map_err(|e| e.to_string()))
        .collect()
}

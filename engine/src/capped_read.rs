//! Files a user names, read only when their size fits: a model folder's `config.json` or weights,
//! or a clip, of many gigabytes would otherwise be read whole before anything could refuse it.

use std::path::Path;

/// The largest `config.json` read (the real ones are a few kilobytes).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Room a safetensors file needs beyond its tensors' bytes: the JSON header with names, shapes
/// and offsets.
pub const WEIGHTS_HEADER_BYTES: u64 = 16 << 20;

/// Reads `path` whole, or says why not: unreadable, or over `max_bytes` (from its size, before
/// a byte is read). `what` names the limit in the message, e.g. "a student's weights".
pub fn read_capped(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > max_bytes {
        return Err(format!(
            "{}: {size} bytes, over the {max_bytes} bytes {what} may take",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`read_capped`] for text.
pub fn read_capped_text(path: &Path, max_bytes: u64, what: &str) -> Result<String, String> {
    String::from_utf8(read_capped(path, max_bytes, what)?)
        .map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

/// The most bytes a safetensors file of at most `max_parameters` f32 parameters can hold.
pub fn max_weights_bytes(max_parameters: u64) -> u64 {
    max_parameters
        .saturating_mul(4)
        .saturating_add(WEIGHTS_HEADER_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_its_cap_is_refused_from_its_size() {
        let dir = std::env::temp_dir().join(format!("tempokd-capped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        // A sparse file: refusing it must not read it.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let refused = read_capped_text(&path, MAX_CONFIG_BYTES, "a config").unwrap_err();
        assert!(
            refused.ends_with("16777217 bytes, over the 16777216 bytes a config may take"),
            "{refused}"
        );
        file.set_len(3).unwrap();
        assert_eq!(
            read_capped(&path, MAX_CONFIG_BYTES, "a config").unwrap(),
            vec![0; 3]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

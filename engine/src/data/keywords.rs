//! The 12 classes of Speech Commands keyword spotting, and the words behind `_unknown_`.

/// The ten keywords, in the order the label list starts with.
pub const KEYWORDS: [&str; 10] = [
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
];

/// The other Speech Commands v2 words, all labelled `_unknown_`.
pub const UNKNOWN_WORDS: [&str; 25] = [
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow", "zero",
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "backward", "forward",
    "follow", "learn", "visual",
];

pub const UNKNOWN: &str = "_unknown_";
pub const SILENCE: &str = "_silence_";

/// The 12 labels: the keywords, then `_unknown_` and `_silence_`.
pub fn labels() -> Vec<String> {
    KEYWORDS
        .iter()
        .chain(&[UNKNOWN, SILENCE])
        .map(|s| s.to_string())
        .collect()
}

/// The label a spoken word gets.
pub fn label_of(word: &str) -> &'static str {
    match KEYWORDS.iter().find(|k| **k == word) {
        Some(keyword) => keyword,
        None if word == SILENCE => SILENCE,
        None => UNKNOWN,
    }
}

//! A student's weights as a C header for microcontroller integrators: every matrix and kernel as
//! int8 codes with its scale (the int8 ONNX export's codes), every other tensor as floats, in
//! the order the student's module tree holds them, with its config, classes and front end in
//! comments, so a hand-written forward pass (CMSIS-NN, a vendor's kernels) can take them in.

use super::{ExportError, front_end};
use crate::checkpoint::{named_tensors, read_to_host};
use crate::students::{Int8Codes, Student, is_rounded};
use std::fmt::Write;

/// The header for `student`; `name` (letters, digits and underscores kept, the rest made `_`)
/// prefixes every symbol, so several students can share a program.
pub async fn student_c_header(student: &Student, name: &str) -> Result<String, ExportError> {
    let prefix = c_identifier(name);
    let config = student.config();
    let tensors = read_to_host(named_tensors(student.model()))
        .await
        .map_err(ExportError::Device)?;
    let mut out = String::new();
    let guard = format!("{}_H", prefix.to_ascii_uppercase());
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "/* {prefix}: a TempoKD {} student, written by `tempokd export --c-header`.\n *\n \
         * Front end: {}\n *\n \
         * Matrices and kernels are int8: value = code * scale (symmetric, one scale per tensor,\n \
         * zero point 0). Biases, batch norm, peepholes and the query are float. Tensors follow\n \
         * the student's module tree, each a flat row-major array whose length spells its shape\n \
         * (linear weights in * out, convolutions out * in * kernel...). The training-only query\n \
         * (attention_head.q) is kept for the temporal attention; the classes need no more than\n \
         * the rest. GRUs: weight_ih in * 3H and weight_hh H * 3H, gates reset, update, new, the\n \
         * reset gate scaling (h . weight_hh + bias_hh) as PyTorch's GRU does; LSTM-P: weight_ih\n \
         * in * 4H, gates input, forget, candidate, output, peepholes on the cell, then the\n \
         * projection H * P.\n *\n * config.json:\n{} */",
        config.arch_name(),
        front_end(config.input, &config.features),
        config
            .to_json()
            .lines()
            .map(|line| format!(" *   {}\n", line.replace("*/", "* /")))
            .collect::<String>()
    );
    let _ = writeln!(
        out,
        "#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n"
    );
    let _ = writeln!(
        out,
        "#define {}_CLASSES {}",
        prefix.to_ascii_uppercase(),
        config.classes()
    );
    let labels: Vec<String> = config.labels.iter().map(|l| c_string(l)).collect();
    let _ = writeln!(
        out,
        "static const char *const {prefix}_labels[{}] = {{{}}};\n",
        labels.len(),
        labels.join(", ")
    );
    for (tensor, shape, values) in tensors {
        let symbol = format!("{prefix}_{}", c_identifier(&tensor));
        // Flat, row-major, the shape spelt out in the length.
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        let dims = format!("[{}]", dims.join(" * "));
        if is_rounded(&shape) {
            let Int8Codes { codes, scale } = Int8Codes::quantize(&values);
            let _ = writeln!(out, "/* {tensor} {shape:?}, int8 */");
            let _ = writeln!(
                out,
                "static const float {symbol}_scale = {};",
                c_float(scale)
            );
            let codes: Vec<String> = codes.iter().map(i8::to_string).collect();
            let _ = writeln!(
                out,
                "static const int8_t {symbol}{dims} = {{{}}};\n",
                wrap(&codes)
            );
        } else {
            let values: Vec<String> = values.iter().map(|&v| c_float(v)).collect();
            let _ = writeln!(out, "/* {tensor} {shape:?}, float */");
            let _ = writeln!(
                out,
                "static const float {symbol}{dims} = {{{}}};\n",
                wrap(&values)
            );
        }
    }
    let _ = writeln!(out, "#endif /* {guard} */");
    Ok(out)
}

/// `text` with everything but ASCII letters, digits and underscores made `_`, and a leading
/// `_` where it would start with a digit.
fn c_identifier(text: &str) -> String {
    let mut identifier: String = text
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c,
            false => '_',
        })
        .collect();
    if !identifier.starts_with(|c: char| c.is_ascii_alphabetic()) {
        identifier.insert(0, '_');
    }
    identifier
}

/// A C string literal of `text`, every byte outside printable ASCII escaped in octal.
fn c_string(text: &str) -> String {
    let mut literal = String::from("\"");
    for byte in text.bytes() {
        match byte {
            b'"' | b'\\' => literal.extend(['\\', byte as char]),
            0x20..=0x7e => literal.push(byte as char),
            _ => literal.push_str(&format!("\\{byte:03o}")),
        }
    }
    literal.push('"');
    literal
}

/// A finite float as a C `float` literal that reads back to the same value.
fn c_float(value: f32) -> String {
    let text = format!("{value:?}");
    match text.contains(['.', 'e']) {
        true => format!("{text}f"),
        false => format!("{text}.0f"),
    }
}

/// Values sixteen to a line.
fn wrap(values: &[String]) -> String {
    let lines: Vec<String> = values.chunks(16).map(|chunk| chunk.join(", ")).collect();
    format!("\n  {}\n", lines.join(",\n  "))
}

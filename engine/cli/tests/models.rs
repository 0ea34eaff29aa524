//! The default models in `static/models/`: every model loads, every card's check-set score is
//! what a fresh `tempokd eval` measures on its weights, and all of them fit the page's budget.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;
use tempokd::model::{ModelIndex, ModelKind};
use tempokd::students::Precision;

/// The page downloads every default model; together they must stay under this.
const BUDGET_BYTES: u64 = 40_000_000;

/// Models the page expects: the teacher, and each student without and with KD.
const EXPECTED: [&str; 11] = [
    "teacher",
    "lstm-p",
    "lstm-p-kd",
    "tc-resnet8",
    "tc-resnet8-kd",
    "crnn",
    "crnn-kd",
    "att-rnn",
    "att-rnn-kd",
    "mhatt-rnn",
    "mhatt-rnn-kd",
];

/// How far a fresh score may sit from the card: one clip of the check set either way (a clip
/// whose top two classes are within float rounding can flip between CPUs), and localisation to
/// the card's printed precision plus that rounding.
const LOCALISATION_TOLERANCE: f64 = 0.002;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn models() -> PathBuf {
    repository().join("static/models")
}

/// The check set's row of a card: `| check set | n | accuracy % (interval) | localisation
/// (interval) |`; cards written before the intervals have the scores alone.
fn card_check_row(card: &str) -> (usize, f64, f64) {
    let row = card
        .lines()
        .find(|line| line.starts_with("| check set |"))
        .unwrap_or_else(|| panic!("no check set row in:\n{card}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let leading = |cell: &str| -> f64 {
        let number = cell.split([' ', '%']).next().unwrap_or_default();
        number
            .parse()
            .unwrap_or_else(|_| panic!("`{cell}` does not start with a number"))
    };
    let n = cells[2].parse().unwrap();
    (n, leading(cells[3]) / 100.0, leading(cells[4]))
}

#[test]
fn every_default_model_is_there_and_all_fit_the_budget() {
    let index = ModelIndex::read(&models()).unwrap();
    let listed: Vec<&str> = index.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(listed, EXPECTED);
    let mut total = 0;
    for name in EXPECTED {
        let dir = models().join(name);
        for file in ["config.json", "model.safetensors", "README.md"] {
            assert!(dir.join(file).is_file(), "{name}: no {file}");
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            total += entry.unwrap().metadata().unwrap().len();
        }
    }
    assert!(total < BUDGET_BYTES, "{total} bytes of default models");
}

#[test]
fn every_card_matches_a_fresh_eval_of_its_weights() {
    let check_set = repository().join("engine/tests/fixtures/check-set");
    for name in EXPECTED {
        let dir = models().join(name);
        let card = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let (n, accuracy, localisation) = card_check_row(&card);
        let output = Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .args(["eval", "--json", "--model"])
            .arg(&dir)
            .arg("--data")
            .arg(&check_set)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let fresh: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(fresh["n"].as_u64().unwrap() as usize, n, "{name}");
        let fresh_accuracy = fresh["accuracy"].as_f64().unwrap();
        assert!(
            (fresh_accuracy - accuracy).abs() <= 1.0 / n as f64 + 1e-6,
            "{name}: card says {accuracy}, eval gives {fresh_accuracy}"
        );
        let fresh_localisation = fresh["attention_in_window"].as_f64().unwrap();
        assert!(
            (fresh_localisation - localisation).abs() <= LOCALISATION_TOLERANCE,
            "{name}: card says localisation {localisation}, eval gives {fresh_localisation}"
        );
    }
}

#[test]
fn every_model_loads_with_the_parameters_and_size_its_card_states() {
    let device = tempokd::device::ComputeDevice::cpu("tests run on the CPU").device;
    for model in ModelIndex::read(&models()).unwrap().models {
        let name = model.name.as_str();
        let dir = models().join(name);
        let card = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let bytes = std::fs::metadata(dir.join("model.safetensors"))
            .unwrap()
            .len();
        assert_eq!(model.bytes, bytes, "{name}");
        assert!(card.contains(&format!("({bytes} bytes)")), "{name}");
        let params = match model.kind {
            ModelKind::Teacher => tempokd::teacher::Teacher::load_dir(&dir, &device)
                .unwrap()
                .params(),
            ModelKind::Student => tempokd::students::Student::load_dir(&dir, &device)
                .unwrap()
                .deployed_params(),
        };
        assert_eq!(model.params, params, "{name}");
        assert!(
            card.contains(&format!("| parameters | {params} |")),
            "{name}"
        );
        assert!(
            card.contains("cargo run --release -p tempokd-cli -- defaults"),
            "{name}"
        );
    }
}

#[test]
fn the_teacher_and_every_student_with_kd_name_each_demo_clips_word() {
    use tempokd::model::{Model, ReadingRequest};
    let clips_dir = repository().join("static/clips");
    let listed = std::fs::read_to_string(clips_dir.join("clips.json")).unwrap();
    let clips: Vec<DemoWord> = serde_json::from_str(&listed).unwrap();
    assert!(!clips.is_empty());
    let device = tempokd::device::ComputeDevice::cpu("tests run on the CPU").device;
    let index = ModelIndex::read(&models()).unwrap();
    let checked: Vec<&str> = (index.models.iter())
        .map(|model| model.name.as_str())
        .filter(|name| *name == "teacher" || name.ends_with("-kd"))
        .collect();
    assert_eq!(checked.len(), 6, "{checked:?}");
    for name in checked {
        let model = Model::load_dir(&models().join(name), &device).unwrap();
        for clip in &clips {
            let bytes = std::fs::read(clips_dir.join(&clip.file)).unwrap();
            let audio = tempokd::audio::load_clip(bytes, &Default::default()).unwrap();
            let reading =
                pollster::block_on(model.read(audio.samples(), &ReadingRequest::default()))
                    .unwrap();
            let said = &model.labels()[reading.prediction.top];
            assert_eq!(said, &clip.label, "{name} on {}", clip.file);
        }
    }
}

/// The demo clips one after the other: one stream with each clip's word at a known time.
fn demo_stream() -> (Vec<f32>, Vec<(String, f64, f64)>) {
    let clips_dir = repository().join("static/clips");
    let listed = std::fs::read_to_string(clips_dir.join("clips.json")).unwrap();
    let clips: Vec<DemoWord> = serde_json::from_str(&listed).unwrap();
    let mut stream = Vec::new();
    let mut words = Vec::new();
    for clip in clips {
        let bytes = std::fs::read(clips_dir.join(&clip.file)).unwrap();
        let audio = tempokd::audio::load_clip(bytes, &Default::default()).unwrap();
        let offset = stream.len() as f64 / 16_000.0;
        words.push((clip.label, offset + clip.start_s, offset + clip.end_s));
        stream.extend_from_slice(audio.samples());
    }
    (stream, words)
}

/// A demo clip the page offers and where its word is, as `static/clips/clips.json` lists it.
#[derive(serde::Deserialize)]
struct DemoWord {
    file: String,
    label: String,
    start_s: f64,
    end_s: f64,
}

#[test]
fn the_teacher_and_every_student_with_kd_hear_each_word_of_a_stream_once_where_it_was_said() {
    let (stream, words) = demo_stream();
    let scratch = std::env::temp_dir().join(format!("tempokd-stream-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let wav = scratch.join("demo-stream.wav");
    std::fs::write(&wav, tempokd::audio::encode_wav(&stream, 16_000)).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tempokd"));
    command.args(["stream", "--json", "--audio"]).arg(&wav);
    let checked = [
        "teacher",
        "lstm-p-kd",
        "tc-resnet8-kd",
        "crnn-kd",
        "att-rnn-kd",
        "mhatt-rnn-kd",
    ];
    for name in checked {
        command.arg("--model").arg(models().join(name));
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let heard = report["models"].as_array().unwrap();
    assert_eq!(heard.len(), checked.len());
    for (name, model) in checked.iter().zip(heard) {
        let detections = model["detections"].as_array().unwrap();
        let found: Vec<(&str, f64, f64)> = (detections.iter())
            .map(|d| {
                let at = d["at_s"].as_f64().unwrap();
                (
                    d["label"].as_str().unwrap(),
                    at,
                    d["decided_s"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(found.len(), words.len(), "{name}: {found:?}");
        for ((label, at, decided), (word, start, end)) in found.iter().zip(&words) {
            assert_eq!(label, word, "{name}: {found:?}");
            // Placed by the model's attention: on the word, give or take a student's frame.
            assert!(
                *at > start - 0.2 && *at < end + 0.2,
                "{name}: {word} at {at}"
            );
            // Decided at most half a second after the word ends (in the stream's own time).
            assert!(*decided - end <= 0.5, "{name}: {word} decided at {decided}");
        }
        // Silence between the words is not read.
        let read = model["windows_read"].as_u64().unwrap();
        let early = model["early_windows_read"].as_u64().unwrap();
        assert!(
            read - early < model["windows"].as_u64().unwrap() / 2,
            "{name}"
        );
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn a_stream_fed_in_any_chunks_gives_the_same_detections() {
    use tempokd::model::Model;
    use tempokd::stream::{Cadence, ListenSettings, detect};
    let (stream, _) = demo_stream();
    let device = tempokd::device::ComputeDevice::cpu("tests run on the CPU").device;
    let settings = ListenSettings::default();
    for (name, cadence) in [
        ("tc-resnet8-kd", Cadence::EveryHop),
        ("teacher", Cadence::PerSegment),
    ] {
        let model = Model::load_dir(&models().join(name), &device).unwrap();
        let heard = |chunk: usize| {
            let mut progress = |_| {};
            let detecting = detect(&model, &stream, &settings, cadence, chunk, &mut progress);
            pollster::block_on(detecting).unwrap()
        };
        let whole = heard(stream.len());
        assert_eq!(whole.detections.len(), 3, "{name}");
        for chunk in [128, 2_048, 12_345] {
            assert_eq!(heard(chunk), whole, "{name}: chunks of {chunk}");
        }
    }
}

/// A shipped student written as a folder at int8 (`tempokd export --folder`) scores on the check
/// set exactly as the original does with `eval --precision int8`, from a file under 30 % of the
/// original's.
#[test]
fn a_student_exported_as_an_int8_folder_scores_as_eval_at_int8() {
    let scratch = std::env::temp_dir().join(format!("tempokd-int8-{}", std::process::id()));
    let folder = scratch.join("crnn-kd-int8");
    let original = models().join("crnn-kd");
    let check_set = repository().join("engine/tests/fixtures/check-set");
    let os = std::ffi::OsStr::new;
    tempokd_ok(&[
        os("export"),
        os("--precision"),
        os("int8"),
        os("--model"),
        original.as_os_str(),
        os("--folder"),
        folder.as_os_str(),
    ]);
    let eval = |model: &Path, precision: &str| {
        tempokd_json(&[
            os("eval"),
            os("--json"),
            os("--precision"),
            os(precision),
            os("--model"),
            model.as_os_str(),
            os("--data"),
            check_set.as_os_str(),
        ])
    };
    let (stored, rounded) = (eval(&folder, "fp32"), eval(&original, "int8"));
    for key in ["n", "accuracy", "attention_in_window"] {
        assert_eq!(stored[key], rounded[key], "{key}");
    }
    let size = |dir: &Path| {
        std::fs::metadata(dir.join("model.safetensors"))
            .unwrap()
            .len()
    };
    let share = size(&folder) as f64 / size(&original) as f64;
    assert!(share < 0.3, "int8 weights are {share} of the fp32 file");
    let config = std::fs::read_to_string(folder.join("config.json")).unwrap();
    assert!(config.contains("\"weights\": \"int8\""), "{config}");
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// `tempokd` with these arguments, which must succeed (or the test fails with its standard
/// error); its standard output.
fn tempokd_ok(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_tempokd"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// [`tempokd_ok`]'s output parsed as JSON.
fn tempokd_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    serde_json::from_slice(&tempokd_ok(args)).unwrap()
}

#[test]
fn calibrate_scores_a_generated_stream_as_the_stream_command_hears_it() {
    let scratch = std::env::temp_dir().join(format!("tempokd-calibrate-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let wav = scratch.join("stream.wav");
    let arg = |s: &str| std::ffi::OsString::from(s);
    let synth = [
        "synth-stream",
        "--seconds",
        "40",
        "--words",
        "8",
        "--stream-seed",
        "3",
        "--out",
    ];
    let mut synth: Vec<std::ffi::OsString> = synth.into_iter().map(arg).collect();
    synth.push(wav.clone().into_os_string());
    tempokd_ok(&synth.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scratch.join("stream.json")).unwrap()).unwrap();
    let words = truth["words"].as_array().unwrap();
    assert_eq!(words.len(), 8);
    assert_eq!(truth["duration_s"].as_f64(), Some(40.0));

    // Each word is where the truth says: at 10 dB its span is louder than the background, and
    // the stretches between words are the background alone.
    let samples = tempokd::audio::load_clip(
        std::fs::read(&wav).unwrap(),
        &tempokd::audio::Limits {
            max_seconds: 60.0,
            ..Default::default()
        },
    )
    .unwrap()
    .samples()
    .to_vec();
    let rms = |from: f64, to: f64| {
        let part = &samples[(from * 16_000.0) as usize..(to * 16_000.0) as usize];
        (part.iter().map(|v| v * v).sum::<f32>() / part.len() as f32).sqrt()
    };
    let mut quiet_from = 0.0;
    for word in words {
        let (start, end) = (
            word["start_s"].as_f64().unwrap(),
            word["end_s"].as_f64().unwrap(),
        );
        assert!(
            start - quiet_from >= 2.0,
            "words closer than the gap: {word}"
        );
        let background = rms(quiet_from + 0.1, start - 0.1);
        assert!(rms(start, end) > 2.0 * background, "{word}: {background}");
        quiet_from = end;
    }

    // The trade-off replays the model's readings through the detector: at a threshold it counts
    // exactly what `stream` detects at that threshold, scored by the rule calibrate states.
    let model = models().join("tc-resnet8-kd");
    let heard = tempokd_json(&[
        &arg("stream"),
        &arg("--json"),
        &arg("--threshold"),
        &arg("0.7"),
        &arg("--audio"),
        wav.as_os_str(),
        &arg("--model"),
        model.as_os_str(),
    ]);
    let calibrated = tempokd_json(&[
        &arg("calibrate"),
        &arg("--json"),
        &arg("--thresholds"),
        &arg("0.3,0.7"),
        &arg("--stream"),
        wav.as_os_str(),
        &arg("--model"),
        model.as_os_str(),
    ]);
    let detections = heard["models"][0]["detections"].as_array().unwrap();
    let keywords: Vec<&serde_json::Value> = (words.iter())
        .filter(|w| !w["label"].as_str().unwrap().starts_with('_'))
        .collect();
    let mut found = vec![false; keywords.len()];
    let mut false_accepts = 0;
    for detection in detections {
        let at = detection["at_s"].as_f64().unwrap();
        let hit = (0..keywords.len()).find(|&i| {
            !found[i]
                && keywords[i]["label"] == detection["label"]
                && at >= keywords[i]["start_s"].as_f64().unwrap() - 0.25
                && at <= keywords[i]["end_s"].as_f64().unwrap() + 0.25
        });
        match hit {
            Some(i) => found[i] = true,
            None => false_accepts += 1,
        }
    }
    let curve = calibrated["models"][0]["trade_off"].as_array().unwrap();
    assert_eq!(curve.len(), 2);
    let point = &curve[1];
    assert_eq!(point["threshold"].as_f64(), Some(0.7));
    let tally = &point["errors"]["tally"];
    assert_eq!(tally["keywords"].as_u64(), Some(keywords.len() as u64));
    assert_eq!(
        tally["found"].as_u64(),
        Some(found.iter().filter(|f| **f).count() as u64)
    );
    assert_eq!(tally["false_accepts"].as_u64(), Some(false_accepts));
    // A lower threshold detects at least as much of what was said or imagined.
    let detected = |p: &serde_json::Value| {
        let tally = &p["errors"]["tally"];
        tally["found"].as_u64().unwrap() + tally["false_accepts"].as_u64().unwrap()
    };
    assert!(detected(&curve[0]) >= detected(point), "{curve:?}");

    // A stream whose truth is missing, or is another stream's, is refused with the file named.
    let other = scratch.join("other.wav");
    std::fs::write(
        &other,
        tempokd::audio::encode_wav(&samples[..16_000 * 20], 16_000),
    )
    .unwrap();
    for (expected, json) in [
        ("other.json", None),
        ("not the stream it was written for", Some(truth.to_string())),
    ] {
        if let Some(json) = json {
            std::fs::write(scratch.join("other.json"), json).unwrap();
        }
        let output = Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .args(["calibrate", "--stream"])
            .arg(&other)
            .arg("--model")
            .arg(&model)
            .output()
            .unwrap();
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && error.contains(expected),
            "{error}"
        );
    }
    // Settings no scoring can use are refused before any model reads.
    for (flag, value) in [("--tolerance", "-1"), ("--thresholds", "0.5,1.5")] {
        let output = Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .args(["calibrate", &format!("{flag}={value}"), "--stream"])
            .arg(&wav)
            .arg("--model")
            .arg(&model)
            .output()
            .unwrap();
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && error.contains(flag), "{error}");
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn calibration_streams_say_every_held_out_pack_keyword_and_none_in_the_background() {
    let scratch = std::env::temp_dir().join(format!("tempokd-cal-streams-{}", std::process::id()));
    let pack = repository().join("static/data/pack");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .args(["calibration-streams", "--pack"])
            .arg(&pack)
            .arg("--out")
            .arg(&scratch)
            .args(extra)
            .output()
            .unwrap()
    };
    let made = run(&["--copies", "2", "--background", "20"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let truth = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(scratch.join(format!("{name}.json"))).unwrap())
            .unwrap()
    };
    let seconds = |name: &str| {
        let bytes = std::fs::read(scratch.join(format!("{name}.wav"))).unwrap();
        let (rate, samples) = tempokd::audio::decode_pcm16_mono(&bytes).unwrap();
        samples.len() as f64 / rate as f64
    };
    // The pack's validation and test splits hold one recording of each keyword: said twice each.
    let keywords = truth("keywords");
    let said: Vec<&str> = (keywords["words"].as_array().unwrap().iter())
        .map(|w| w["label"].as_str().unwrap())
        .collect();
    for keyword in [
        "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
    ] {
        assert_eq!(
            said.iter().filter(|l| **l == keyword).count(),
            4,
            "{said:?}"
        );
    }
    assert_eq!(said.len(), 40);
    assert!((seconds("keywords") - keywords["duration_s"].as_f64().unwrap()).abs() < 1e-3);
    let background = truth("background");
    let others = background["words"].as_array().unwrap();
    assert_eq!(others.len(), 2, "one other word every 10 s");
    assert!(others.iter().all(|w| w["label"] == "_unknown_"));
    assert_eq!(seconds("background"), 20.0);
    let refused = run(&["--copies", "0"]);
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && error.contains("1 to 8 times"),
        "{error}"
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn live_the_teacher_reads_each_word_once_and_a_student_every_hop_as_offline() {
    use tempokd::model::{Model, ReadingRequest};
    use tempokd::stream::{Cadence, ListenSettings, LiveListener, detect};
    let (stream, words) = demo_stream();
    let device = tempokd::device::ComputeDevice::cpu("tests run on the CPU").device;
    let teacher = Model::load_dir(&models().join("teacher"), &device).unwrap();
    let student = Model::load_dir(&models().join("tc-resnet8-kd"), &device).unwrap();
    let settings = ListenSettings::default();
    let cadences = [Cadence::PerSegment, Cadence::EveryHop];
    let mut live = LiveListener::new(&settings, &cadences).unwrap();
    let mut detections = [Vec::new(), Vec::new()];
    let mut teacher_readings = 0;
    // Each job read before the audio after it is pushed, as a listener reading without delay.
    let mut rest = &stream[..];
    while !rest.is_empty() {
        let (jobs, taken) = live.push_to_next_job(rest).unwrap();
        rest = &rest[taken..];
        for job in jobs {
            let model = [&teacher, &student][job.model];
            let request = ReadingRequest::default();
            let reading = pollster::block_on(model.read(&job.samples, &request)).unwrap();
            teacher_readings += usize::from(job.model == 0);
            let probs = reading.prediction.probs;
            let (_, found) = live.heard(&job, model.labels(), probs, Some(&reading.map));
            detections[job.model].extend(found);
        }
    }
    // The teacher reads each word once, whole, and names it where it was said.
    assert_eq!(teacher_readings, words.len());
    let heard: Vec<&str> = detections[0].iter().map(|d| d.label.as_str()).collect();
    let said: Vec<&str> = words.iter().map(|(word, _, _)| word.as_str()).collect();
    assert_eq!(heard, said);
    for (found, (_, start, end)) in detections[0].iter().zip(&words) {
        assert!(
            found.at_s > start - 0.2 && found.at_s < end + 0.2,
            "{found:?}"
        );
    }
    // The student, reading every hop, detects what it detects offline.
    let mut progress = |_| {};
    let offline = detect(
        &student,
        &stream,
        &settings,
        Cadence::EveryHop,
        2_048,
        &mut progress,
    );
    assert_eq!(
        detections[1],
        pollster::block_on(offline).unwrap().detections
    );
}

/// The deployment card (`tempokd deploy-card`, static/models/deployment.json) against the
/// weights: each file size is what `tempokd export` writes today, the parameters and
/// multiply-adds are the student's own, and each fp32 accuracy is the model card's own score at
/// that length (the same evaluation).
#[test]
fn the_deployment_card_matches_the_exports_and_the_model_cards() {
    use tempokd::export::card::DeploymentCard;
    use tempokd::export::timing_clip;
    use tempokd::students::Student;
    let text = std::fs::read_to_string(models().join("deployment.json")).unwrap();
    let card: DeploymentCard = serde_json::from_str(&text).unwrap();
    let index = ModelIndex::read(&models()).unwrap();
    let shipped: Vec<&str> = (index.models.iter())
        .filter(|m| m.kind == ModelKind::Student)
        .map(|m| m.name.as_str())
        .collect();
    let on_card: Vec<&str> = card.students.iter().map(|s| s.model.as_str()).collect();
    assert_eq!(
        on_card, shipped,
        "every shipped student, in the index's order"
    );
    let scratch = std::env::temp_dir().join(format!("tempokd-card-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let cpu = tempokd::device::ComputeDevice::cpu("tests run on the CPU").device;
    for student in &card.students {
        let name = &student.model;
        let indexed = index.models.iter().find(|m| &m.name == name).unwrap();
        let loaded = Student::load_dir(&models().join(name), &cpu).unwrap();
        let frames = loaded.features(&timing_clip()).unwrap().frames;
        assert_eq!(student.cost.params, indexed.params, "{name}: parameters");
        assert_eq!(
            student.cost.multiply_adds_per_second,
            loaded.config().multiply_adds(frames),
            "{name}: multiply-adds"
        );
        assert!(
            student.native_ms > 0.0 && student.peak_memory_bytes > 0,
            "{name}"
        );
        let precisions: Vec<_> = student.precisions.iter().map(|p| p.precision).collect();
        assert_eq!(precisions, Precision::ALL, "{name}: every precision");
        for precision in Precision::ALL {
            let file = scratch.join(format!("{name}-{}.onnx", precision.name()));
            let output = Command::new(env!("CARGO_BIN_EXE_tempokd"))
                .args(["export", "--precision", precision.name(), "--model"])
                .arg(models().join(name))
                .arg("--onnx")
                .arg(&file)
                .output()
                .unwrap();
            assert!(output.status.success(), "{name} {precision:?}");
            let size = std::fs::metadata(&file).unwrap().len() as usize;
            assert_eq!(
                student.cost.onnx_bytes(precision),
                Some(size),
                "{name} {precision:?}"
            );
        }
        for score in &student.at(Precision::F32).unwrap().scores {
            let clips = format!("test, L = {} s", score.length_s);
            let on_card = indexed.scores.iter().find(|s| s.clips == clips).unwrap();
            assert_eq!(score.accuracy, on_card.accuracy, "{name} at {clips}");
        }
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}

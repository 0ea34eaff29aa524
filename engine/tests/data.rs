//! Data on disk: the synthesized corpus (deterministic, split by voice, windows where the word
//! is), Speech Commands and FSD50K read as they ship, and bad folders refused by name.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use tempokd::audio::encode_wav;
use tempokd::data::augment::Augmentation;
use tempokd::data::noise::Procedural;
use tempokd::data::synth::{SynthConfig, WordSource, split_voices, synthesize};
use tempokd::data::tts::{Scratch, Synthesizer, VoiceChoice};
use tempokd::data::{Dataset, Layout, Split};

mod common;
use common::scratch_dir;

fn config(out: PathBuf, words: WordSource) -> SynthConfig {
    SynthConfig {
        out,
        lengths: vec![1.0, 2.0],
        per_class: 10,
        seed: 11,
        snr_db: (5.0, 15.0),
        noise_dir: None,
        words,
        augment: Augmentation::all(),
        augmented: vec![Split::Train],
        training_backgrounds: Procedural::ALL.to_vec(),
        splits: Split::ALL.to_vec(),
    }
}

/// `count` voices of every synthesizer.
fn every_synthesizer(count: usize) -> WordSource {
    WordSource::Synthesized(VoiceChoice::new(count, &Synthesizer::ALL))
}

fn tone(seconds: f32, hz: f32) -> Vec<f32> {
    (0..(seconds * 16_000.0) as usize)
        .map(|n| 0.3 * (std::f32::consts::TAU * hz * n as f32 / 16_000.0).sin())
        .collect()
}

fn write_wav(path: &Path, samples: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, encode_wav(samples, 16_000)).unwrap();
}

#[test]
fn synth_is_deterministic_split_by_voice_and_windows_hold_the_word() {
    let root = scratch_dir("tempokd-synth");
    let words = every_synthesizer(12);
    let first = config(root.join("a"), words.clone());
    let report = synthesize(&first, &|_, _, _| {}).unwrap();
    // 12 classes × (8 train + 1 validation + 1 test).
    assert_eq!(report.clips, 120);
    synthesize(&config(root.join("b"), words), &|_, _, _| {}).unwrap();
    let manifest = std::fs::read_to_string(root.join("a/manifest.csv")).unwrap();
    assert_eq!(
        manifest,
        std::fs::read_to_string(root.join("b/manifest.csv")).unwrap()
    );
    let dataset = Dataset::open(&root.join("a")).unwrap();
    assert_eq!(dataset.layout, Layout::Manifest);
    assert_eq!(dataset.labels.len(), 12);
    assert!(
        report.underlying_voices.iter().all(|n| *n >= 1),
        "{report:?}"
    );
    // Effects only on training clips, and on some of them.
    assert!(
        dataset
            .examples
            .iter()
            .all(|e| e.split == Split::Train || e.effects.is_empty())
    );
    assert!(report.effects.iter().map(|(_, n)| n).sum::<usize>() > 0);
    // Without effects, the same seed gives the same corpus but for the training clips' effects.
    let mut plain = config(root.join("c"), every_synthesizer(12));
    plain.augment = Augmentation::none();
    synthesize(&plain, &|_, _, _| {}).unwrap();
    let unaugmented = Dataset::open(&root.join("c")).unwrap();
    let mut changed = 0;
    for (with, without) in dataset.examples.iter().zip(&unaugmented.examples) {
        assert_eq!(
            (&with.file, &with.voice, &with.noise, with.snr_db),
            (
                &without.file,
                &without.voice,
                &without.noise,
                without.snr_db
            )
        );
        let same = std::fs::read(dataset.path(with)).unwrap()
            == std::fs::read(unaugmented.path(without)).unwrap();
        assert!(same || with.split == Split::Train, "{} differs", with.file);
        assert_eq!(
            same,
            with.effects.is_empty(),
            "{}: {}",
            with.file,
            with.effects
        );
        changed += usize::from(!same);
    }
    assert!(changed > 0);
    // With training clips on white noise alone, validation and test clips stay as they were,
    // and so does every draw but the training clips' other backgrounds.
    let mut white = config(root.join("e"), every_synthesizer(12));
    white.training_backgrounds = vec![Procedural::White];
    synthesize(&white, &|_, _, _| {}).unwrap();
    let on_white = Dataset::open(&root.join("e")).unwrap();
    let mut redrawn = 0;
    for (all, only) in dataset.examples.iter().zip(&on_white.examples) {
        assert_eq!(
            (&all.file, &all.voice, all.snr_db, &all.effects),
            (&only.file, &only.voice, only.snr_db, &only.effects)
        );
        let same = std::fs::read(dataset.path(all)).unwrap()
            == std::fs::read(on_white.path(only)).unwrap();
        if all.split == Split::Train {
            assert_eq!(only.noise, "white", "{}", only.file);
            assert_eq!(same, all.noise == "white", "{}", all.file);
            redrawn += usize::from(!same);
        } else {
            assert!(same && all.noise == only.noise, "{} differs", all.file);
        }
    }
    assert!(redrawn > 0);
    // A corpus of only its test split holds the whole corpus's test clips.
    let mut test_only = config(root.join("d"), every_synthesizer(12));
    test_only.splits = vec![Split::Test];
    synthesize(&test_only, &|_, _, _| {}).unwrap();
    let tested = Dataset::open(&root.join("d")).unwrap();
    let whole: Vec<_> = dataset.split(Split::Test).collect();
    assert_eq!(tested.examples.len(), whole.len());
    for (alone, within) in tested.examples.iter().zip(whole) {
        assert_eq!((&alone.file, alone.window), (&within.file, within.window));
        assert_eq!(
            std::fs::read(tested.path(alone)).unwrap(),
            std::fs::read(dataset.path(within)).unwrap()
        );
    }
    for example in dataset.examples.iter().step_by(7) {
        assert_eq!(
            std::fs::read(dataset.path(example)).unwrap(),
            std::fs::read(root.join("b").join(&example.file)).unwrap(),
            "{} differs between two runs with one seed",
            example.file
        );
    }
    // No underlying voice (espeak-ng accent + variant, a recorded speaker) is in two splits,
    // nor any espeak-ng variant under another accent.
    let voices = |split| -> std::collections::HashSet<String> {
        dataset
            .split(split)
            .filter(|e| !e.voice.is_empty())
            .flat_map(|e| {
                let underlying = e.underlying_voice();
                let timbre = underlying
                    .split_once('+')
                    .map(|(_, variant)| format!("variant {variant}"));
                [Some(underlying), timbre]
            })
            .flatten()
            .collect()
    };
    let (train, validation, test) = (
        voices(Split::Train),
        voices(Split::Validation),
        voices(Split::Test),
    );
    assert!(
        train.is_disjoint(&test) && train.is_disjoint(&validation) && validation.is_disjoint(&test)
    );
    assert!(!test.is_empty());
    for example in &dataset.examples {
        let samples = dataset.audio(example).unwrap();
        let seconds = samples.len() as f32 / 16_000.0;
        assert!(
            seconds == 1.0 || seconds == 2.0,
            "{}: {seconds} s",
            example.file
        );
        match (example.labels[0].as_str(), example.window) {
            ("_silence_", None) => {}
            ("_silence_", Some(_)) => panic!("{}: silence has no window", example.file),
            (_, None) => panic!("{}: a word without a window", example.file),
            (_, Some(window)) => {
                assert!(0.0 <= window.start_s && window.end_s <= seconds + 1e-3);
                // At the drawn SNR (≥ 5 dB) the window is louder than the rest of the clip.
                let at = |s: f32| ((s * 16_000.0) as usize).min(samples.len());
                let inside = rms(&samples[at(window.start_s)..at(window.end_s)]);
                let outside: Vec<f32> = samples[..at(window.start_s)]
                    .iter()
                    .chain(&samples[at(window.end_s)..])
                    .copied()
                    .collect();
                if outside.len() > 1600 {
                    assert!(
                        inside > rms(&outside),
                        "{}: the word is not in its window",
                        example.file
                    );
                }
            }
        }
    }
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// A Speech Commands v2 folder in miniature: four words, two speakers, both list files.
fn speech_commands(root: &Path) {
    for (word, speaker, hz) in [
        ("yes", "aaaa1111", 400.0),
        ("no", "bbbb2222", 600.0),
        ("cat", "aaaa1111", 800.0),
        ("yes", "cccc3333", 500.0),
    ] {
        write_wav(
            &root.join(format!("{word}/{speaker}_nohash_0.wav")),
            &tone(1.0, hz),
        );
    }
    write_wav(&root.join("_background_noise_/hum.wav"), &tone(3.0, 60.0));
    std::fs::write(
        root.join("validation_list.txt"),
        "no/bbbb2222_nohash_0.wav\n",
    )
    .unwrap();
    std::fs::write(root.join("testing_list.txt"), "yes/cccc3333_nohash_0.wav\n").unwrap();
}

#[test]
fn speech_commands_is_read_as_it_ships_and_feeds_the_noisy_construction() {
    let root = scratch_dir("tempokd-sc");
    speech_commands(&root.join("sc"));
    let dataset = Dataset::open(&root.join("sc")).unwrap();
    assert_eq!(dataset.layout, Layout::SpeechCommands);
    let by_file = |file: &str| dataset.examples.iter().find(|e| e.file == file).unwrap();
    assert_eq!(by_file("cat/aaaa1111_nohash_0.wav").labels, ["_unknown_"]);
    assert_eq!(by_file("cat/aaaa1111_nohash_0.wav").split, Split::Train);
    assert_eq!(by_file("no/bbbb2222_nohash_0.wav").split, Split::Validation);
    assert_eq!(by_file("yes/cccc3333_nohash_0.wav").split, Split::Test);
    assert_eq!(by_file("yes/cccc3333_nohash_0.wav").voice, "cccc3333");
    assert_eq!(
        dataset.examples.len(),
        4,
        "_background_noise_ is not a word"
    );

    let out = root.join("noisy");
    let mut noisy = config(out.clone(), WordSource::SpeechCommands(root.join("sc")));
    noisy.lengths = vec![4.0];
    synthesize(&noisy, &|_, _, _| {}).unwrap();
    let built = Dataset::open(&out).unwrap();
    // The test split holds only the test speaker's "yes" and silence.
    let test_labels: std::collections::BTreeSet<&str> = built
        .split(Split::Test)
        .map(|e| e.labels[0].as_str())
        .collect();
    assert_eq!(test_labels, ["_silence_", "yes"].into_iter().collect());
    assert!(
        built
            .split(Split::Test)
            .all(|e| e.voice.is_empty() || e.voice == "cccc3333")
    );
    assert!(built.examples.iter().any(|e| e.noise == "file:hum.wav"));
}

#[test]
fn fsd50k_is_read_as_it_ships_with_several_labels_per_clip() {
    let scratch = scratch_dir("tempokd-fsd");
    let root = scratch.join("fsd");
    let truth = root.join("FSD50K.ground_truth");
    std::fs::create_dir_all(&truth).unwrap();
    std::fs::write(
        truth.join("vocabulary.csv"),
        "0,Bark,/m/05tny_\n1,Dog,/m/0bt9lr\n2,Music,/m/04rlf\n",
    )
    .unwrap();
    std::fs::write(
        truth.join("dev.csv"),
        "fname,labels,mids,split\n64760,\"Bark,Dog\",\"/m/05tny_,/m/0bt9lr\",train\n17,Music,/m/04rlf,val\n",
    )
    .unwrap();
    std::fs::write(
        truth.join("eval.csv"),
        "fname,labels,mids\n37199,\"Dog,Music\",\"/m/0bt9lr,/m/04rlf\"\n",
    )
    .unwrap();
    let dataset = Dataset::open(&root).unwrap();
    assert_eq!(dataset.layout, Layout::Fsd50k);
    assert!(dataset.multi_label);
    assert_eq!(dataset.labels, ["Bark", "Dog", "Music"]);
    assert_eq!(dataset.examples[0].labels, ["Bark", "Dog"]);
    assert_eq!(dataset.examples[0].file, "FSD50K.dev_audio/64760.wav");
    assert_eq!(dataset.examples[1].split, Split::Validation);
    assert_eq!(dataset.examples[2].split, Split::Test);
    assert_eq!(dataset.examples[2].file, "FSD50K.eval_audio/37199.wav");

    std::fs::write(
        truth.join("eval.csv"),
        "fname,labels,mids\n1,Cat,/m/01yrx\n",
    )
    .unwrap();
    let error = Dataset::open(&root).unwrap_err().to_string();
    assert!(
        error.contains("eval.csv, row 2: label `Cat` is not in vocabulary.csv"),
        "{error}"
    );
}

#[test]
fn lists_longer_than_are_read_are_refused_and_large_vocabularies_are_looked_up_by_name() {
    let root = scratch_dir("tempokd-long-lists");
    // Rows of four bytes: within the size a list may have, but each a clip in memory.
    let rows = "a,b\n".repeat(tempokd::data::MAX_LIST_LINES);
    std::fs::write(root.join("manifest.csv"), format!("file,label\n{rows}")).unwrap();
    let error = Dataset::open(&root).unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "manifest.csv: it has {} lines; a list of at most {} is read",
            tempokd::data::MAX_LIST_LINES + 1,
            tempokd::data::MAX_LIST_LINES
        )),
        "{error}"
    );

    // FSD50K with a vocabulary of 100,000 labels and as many clips, each with the last label.
    let fsd = root.join("fsd");
    let truth = fsd.join("FSD50K.ground_truth");
    std::fs::create_dir_all(&truth).unwrap();
    let labels = 100_000;
    let vocabulary: String = (0..labels)
        .map(|i| format!("{i},label{i},/m/{i}\n"))
        .collect();
    std::fs::write(truth.join("vocabulary.csv"), vocabulary).unwrap();
    let last = labels - 1;
    let clips: String = (0..labels)
        .map(|i| format!("{i},label{last},/m/{last},train\n"))
        .collect();
    std::fs::write(
        truth.join("dev.csv"),
        format!("fname,labels,mids,split\n{clips}"),
    )
    .unwrap();
    std::fs::write(truth.join("eval.csv"), "fname,labels,mids\n").unwrap();
    let dataset = Dataset::open(&fsd).unwrap();
    assert_eq!(
        (dataset.labels.len(), dataset.examples.len()),
        (labels, labels)
    );
}

#[test]
fn bad_folders_and_rows_are_named() {
    let root = scratch_dir("tempokd-bad-data");
    let error = Dataset::open(&root.join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nowhere") && error.contains("missing"),
        "{error}"
    );
    let error = Dataset::open(&root).unwrap_err().to_string();
    assert!(error.contains("manifest.csv"), "{error}");

    std::fs::write(
        root.join("manifest.csv"),
        "file,label,start_s,end_s\na.wav,yes,0.2,0.7\nb.wav,maybe,,\n",
    )
    .unwrap();
    let dataset = Dataset::open(&root).unwrap();
    // A label the model does not know is refused with its row.
    let error = dataset
        .check_labels(&tempokd::data::keywords::labels())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("manifest.csv, row 3: label `maybe`"),
        "{error}"
    );
    // A listed file that is not there is named.
    let error = dataset.audio(&dataset.examples[0]).unwrap_err().to_string();
    assert!(error.contains("a.wav"), "{error}");
    std::fs::write(
        root.join("manifest.csv"),
        "file,label,start_s,end_s\na.wav,yes,0.9,0.7\n",
    )
    .unwrap();
    let error = Dataset::open(&root).unwrap_err().to_string();
    assert!(error.contains("row 2"), "{error}");
}

#[test]
fn synth_settings_are_checked_before_any_work() {
    let root = scratch_dir("tempokd-synth-bad");
    for (change, expected) in [
        (
            Box::new(|c: &mut SynthConfig| c.lengths = vec![0.2]) as Box<dyn Fn(&mut SynthConfig)>,
            "1 to 30 s",
        ),
        (
            Box::new(|c: &mut SynthConfig| c.per_class = 0),
            "--per-class",
        ),
        (
            Box::new(|c: &mut SynthConfig| c.snr_db = (20.0, 5.0)),
            "SNR",
        ),
        (
            Box::new(|c: &mut SynthConfig| c.words = every_synthesizer(2)),
            "--voices",
        ),
        (
            Box::new(|c: &mut SynthConfig| c.noise_dir = Some(root.join("none"))),
            "noise folder",
        ),
        (
            Box::new(|c: &mut SynthConfig| c.training_backgrounds.clear()),
            "background for training clips",
        ),
    ] {
        let mut bad = config(root.join("out"), every_synthesizer(12));
        change(&mut bad);
        let error = synthesize(&bad, &|_, _, _| {}).unwrap_err().to_string();
        assert!(error.contains(expected), "{error:?} lacks {expected:?}");
    }
}

/// With espeak-ng and flite alone the generator draws what it drew before MBROLA, RHVoice and
/// Pico joined (the shipped models' corpora were drawn so): `fixtures/voices-espeak-ng-flite.txt`
/// holds that generator's voices (`count seed split id`) for three voice counts and seeds.
#[test]
fn espeak_ng_and_flite_draw_the_voices_they_drew_before() {
    let fixture = include_str!("fixtures/voices-espeak-ng-flite.txt");
    let mut expected: std::collections::BTreeMap<(usize, u64), [Vec<String>; 3]> =
        Default::default();
    for line in fixture.lines() {
        let fields: Vec<&str> = line.splitn(4, ' ').collect();
        let [count, seed, split, id] = fields[..] else {
            panic!("bad fixture line {line:?}");
        };
        expected
            .entry((count.parse().unwrap(), seed.parse().unwrap()))
            .or_default()[split.parse::<usize>().unwrap()]
        .push(id.to_string());
    }
    assert_eq!(expected.len(), 3);
    for ((count, seed), splits) in expected {
        let choice = VoiceChoice::new(count, &[Synthesizer::EspeakNg, Synthesizer::Flite]);
        let drawn: [Vec<String>; 3] =
            split_voices(&choice, seed).map(|voices| voices.iter().map(|v| v.id()).collect());
        assert_eq!(drawn, splits, "{count} voices from seed {seed}");
    }
}

/// Every speaker of every synthesizer speaks: a missing voice package shows here, not an hour
/// into a corpus.
#[test]
fn every_voice_of_every_synthesizer_speaks_a_word() {
    let scratch = Scratch::new("every-voice").unwrap();
    for synthesizer in Synthesizer::ALL {
        let mut spoken = std::collections::HashSet::new();
        for voice in split_voices(&VoiceChoice::new(400, &[synthesizer]), 1)
            .iter()
            .flatten()
        {
            // Each voice file once (`flite:kal16` and Kokoro's `pf_dora` too, though one speaker
            // with another), and espeak-ng's timbres once whatever their accent.
            let id = voice.id();
            let name: Vec<&str> = id.split(':').take(2).collect();
            let name = name.join(":");
            let timbre = name
                .split_once('+')
                .map_or(name.as_str(), |(_, t)| t)
                .to_string();
            if !spoken.insert(timbre) {
                continue;
            }
            let samples = voice.speak("seven", &scratch).unwrap();
            let seconds = samples.len() as f32 / 16_000.0;
            let rms =
                (samples.iter().map(|v| v * v).sum::<f32>() / samples.len().max(1) as f32).sqrt();
            assert!(
                (0.2..1.5).contains(&seconds) && rms > 1e-3,
                "{}: {seconds:.2} s at RMS {rms:.4}",
                voice.id()
            );
        }
        assert!(!spoken.is_empty(), "{synthesizer} drew no voice");
    }
}

/// Pico's two speakers cannot fill three splits: asking for an empty split is an error that says
/// why, and the splits that have its speakers are still written.
/// The same voice saying the same word on several threads at once (a stream or a corpus says
/// a word many times in parallel): each call hears its own file, never another's half-written one.
#[test]
fn one_voice_saying_one_word_on_several_threads_at_once_says_it_each_time() {
    let scratch = Scratch::new("same-word").unwrap();
    for synthesizer in Synthesizer::ALL {
        let voice = &split_voices(&VoiceChoice::new(400, &[synthesizer]), 1)[0][0];
        let alone = voice.speak("down", &scratch).unwrap();
        let together: Vec<Vec<f32>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| voice.speak("down", &scratch)))
                .collect();
            (threads.into_iter())
                .map(|thread| thread.join().unwrap().unwrap())
                .collect()
        });
        for samples in together {
            assert_eq!(samples, alone, "{}", voice.id());
        }
    }
}

#[test]
fn a_split_the_synthesizers_leave_empty_is_refused_by_name() {
    let root = scratch_dir("tempokd-synth-empty-split");
    let pico = VoiceChoice::new(12, &[Synthesizer::Pico]);
    let drawn = split_voices(&pico, 11);
    let (empty, filled): (Vec<Split>, Vec<Split>) = Split::ALL
        .into_iter()
        .partition(|split| drawn[*split as usize].is_empty());
    assert!(!empty.is_empty() && !filled.is_empty(), "{drawn:?}");
    let every_split = config(root.join("all"), WordSource::Synthesized(pico.clone()));
    let error = synthesize(&every_split, &|_, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "the {} split has no speaker of pico",
            empty[0].name()
        )),
        "{error}"
    );
    let mut written = config(root.join("filled"), WordSource::Synthesized(pico));
    written.splits = filled;
    synthesize(&written, &|_, _, _| {}).unwrap();
    assert!(
        !Dataset::open(&root.join("filled"))
            .unwrap()
            .examples
            .is_empty()
    );
}

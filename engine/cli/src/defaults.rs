//! `tempokd defaults`: trains the models the page ships with (the teacher, and every student
//! without KD and with KD at its best λ), scores them with `tempokd eval`, and writes each with
//! its model card into `static/models/<name>/`. Every run is kept in the work folder, so an
//! interrupted build resumes where it stopped.

use crate::curriculum::{Curriculum, LENGTHS, SEED, SYNTHESIZERS, Sizes, synthesizers_text};
use crate::deploy_card;
use crate::device::DeviceArgs;
use crate::jobs::{Job, TRAINING_PROCESSES, underlying_voices};
use crate::train_and_eval::{self, evaluate};
use clap::Args;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::data::tts::Synthesizer;
use tempokd::data::{Dataset, Split};
use tempokd::device::Placement;
use tempokd::kd::KdTarget;
use tempokd::model::{IndexedModel, IndexedScore, Model, ModelIndex, ModelKind};
use tempokd::parallel;
use tempokd::students::{Precision, Preset};
use tempokd::teacher::Teacher;
use tempokd::train::{ClipLoading, CommonSettings, Evaluation, TrainingRecord};

#[derive(Args, Clone)]
pub struct DefaultsArgs {
    /// Where the shipped models go, one folder each, with index.json listing them.
    #[arg(long, default_value = "static/models")]
    pub out: PathBuf,
    /// Where the corpora and every training run are kept.
    #[arg(long, default_value = "target/default-models")]
    pub work: PathBuf,
    /// Restore finished runs from, and keep each run as it finishes in, this folder (the
    /// repository's `stages/`), so the build resumes on another machine.
    #[arg(long)]
    pub stages: Option<PathBuf>,
    /// A small fixed set of clips that every card also scores, so a test can hold each card to
    /// its weights; made from the test split when the folder has no manifest.csv.
    #[arg(long, default_value = "engine/tests/fixtures/check-set")]
    pub check_set: PathBuf,
    /// KD weights λ tried for each student (the paper's); the one with the best validation
    /// accuracy ships.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.25,0.5")]
    pub lambdas: Vec<f32>,
    #[arg(long, default_value_t = SEED)]
    pub seed: u64,
    /// The synthesizers that speak every corpus (`synth --synthesizers`).
    #[arg(long, value_delimiter = ',', default_values_t = SYNTHESIZERS, value_parser = Synthesizer::parse)]
    pub synthesizers: Vec<Synthesizer>,
    /// Where the deployment card's table goes (`deploy-card --out`).
    #[arg(long, default_value = deploy_card::DEFAULT_OUT)]
    pub deployment_card: PathBuf,
    /// Also put the deployment card's table into this README (`deploy-card --readme`).
    #[arg(long)]
    pub readme: Option<PathBuf>,
    /// Where every model trains (scores on the cards are measured on the CPU).
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl DefaultsArgs {
    /// The command that writes these models, as their cards quote it: `defaults` with each
    /// argument whose value is not its default.
    pub fn command(&self) -> String {
        use clap::FromArgMatches;
        let plain = Self::augment_args(clap::Command::new("defaults"))
            .try_get_matches_from(["defaults"])
            .ok()
            .and_then(|matches| Self::from_arg_matches(&matches).ok());
        let mut command = String::from("cargo run --release -p tempokd-cli -- defaults");
        let mut give = |flag: &str, value: String, default: Option<String>| {
            if default.as_ref() != Some(&value) {
                let _ = write!(command, " --{flag} {value}");
            }
        };
        let path = |path: &Path| path.display().to_string();
        let list = |items: Vec<String>| items.join(",");
        let lambdas = |args: &Self| list(args.lambdas.iter().map(f32::to_string).collect());
        let names = |args: &Self| list(args.synthesizers.iter().map(|s| s.to_string()).collect());
        let plain = plain.as_ref();
        give("out", path(&self.out), plain.map(|p| path(&p.out)));
        give("work", path(&self.work), plain.map(|p| path(&p.work)));
        if let Some(stages) = &self.stages {
            give("stages", path(stages), None);
        }
        give(
            "check-set",
            path(&self.check_set),
            plain.map(|p| path(&p.check_set)),
        );
        give("lambdas", lambdas(self), plain.map(lambdas));
        give(
            "seed",
            self.seed.to_string(),
            plain.map(|p| p.seed.to_string()),
        );
        give("synthesizers", names(self), plain.map(names));
        give(
            "deployment-card",
            path(&self.deployment_card),
            plain.map(|p| path(&p.deployment_card)),
        );
        if let Some(readme) = &self.readme {
            give("readme", path(readme), None);
        }
        let device = self.device.device.to_string();
        give("device", device, plain.map(|p| p.device.device.to_string()));
        command
    }
}

/// The students, in the paper's order.
const STUDENTS: [Preset; 5] = Preset::PAPER;

/// Check-set clips per class and length; short lengths keep the committed set small.
const CHECK_CLIPS: usize = 2;
const CHECK_LENGTHS: [f32; 2] = [1.0, 2.0];

/// One model that ships: its folder name, the run it comes from and how it was made.
struct Shipped {
    name: String,
    /// The student's architecture; `None` for the teacher.
    preset: Option<Preset>,
    run: PathBuf,
    title: String,
    /// Markdown paragraphs on how it was trained.
    training: String,
}

pub fn defaults(args: &DefaultsArgs) -> Result<(), String> {
    if args.lambdas.is_empty() || args.lambdas.iter().any(|l| !(*l > 0.0 && *l <= 1.0)) {
        return Err("--lambdas must list KD weights in (0, 1]".into());
    }
    let started = std::time::Instant::now();
    let curriculum = Curriculum::prepare(
        &args.work,
        args.seed,
        &args.synthesizers,
        &Sizes::FULL,
        None,
        args.stages.as_deref(),
        args.device.clone(),
    )?;
    let students = STUDENTS.map(|preset| StudentRuns::plan(&curriculum, preset, &args.lambdas));
    train(&curriculum, &students)?;
    let mut shipped = vec![shipped_teacher(&curriculum)];
    for runs in &students {
        shipped.extend(shipped_students(runs));
    }
    write_models(args, &curriculum, &shipped)?;
    // Last, from the models just written, so it never describes older ones and every student's
    // card gets its Deployment section back.
    println!("== the deployment card");
    deploy_card::deploy_card(&deploy_card::DeployCardArgs {
        models: args.out.clone(),
        data: curriculum.test_dir.clone(),
        lengths: deploy_card::DEFAULT_LENGTHS.to_vec(),
        out: args.deployment_card.clone(),
        readme: args.readme.clone(),
    })?;
    println!(
        "{} models in {} ({:.1} minutes)",
        shipped.len(),
        args.out.display(),
        started.elapsed().as_secs_f32() / 60.0
    );
    Ok(())
}

/// One student's runs: its first stage on 1 s clips, its second without KD, and its second
/// with KD at each λ tried.
struct StudentRuns {
    preset: Preset,
    words_stage: Job,
    baseline: Job,
    distilled: Vec<(f32, Job)>,
}

impl StudentRuns {
    fn plan(curriculum: &Curriculum, preset: Preset, lambdas: &[f32]) -> Self {
        Self {
            preset,
            words_stage: curriculum.words_stage(preset),
            baseline: curriculum.mixed_stage(preset, 0.0),
            distilled: (lambdas.iter())
                .map(|lambda| (*lambda, curriculum.mixed_stage(preset, *lambda)))
                .collect(),
        }
    }
}

/// The teacher (and the students without KD, which train beside it), the teacher's maps of
/// every training clip, then the students with KD; finished runs are skipped, and so are the
/// maps when no student with KD is left to train.
fn train(curriculum: &Curriculum, students: &[StudentRuns]) -> Result<(), String> {
    let baselines: Vec<Job> = students.iter().map(|runs| runs.baseline.clone()).collect();
    curriculum.train_teacher(&STUDENTS, &baselines, &|job| curriculum.keep_model(job))?;
    let distilled = students
        .iter()
        .flat_map(|runs| runs.distilled.iter().map(|(_, job)| job));
    let left = curriculum.unfinished(distilled)?;
    if left.is_empty() {
        println!("== the students with KD: every run finished or restored");
        return Ok(());
    }
    println!("== the teacher's maps of every training clip");
    train_and_eval::cache_teacher_maps(
        curriculum.teacher(),
        &curriculum.mixed_dir,
        &curriculum.device.start_lead()?,
    )?;
    println!("== the students with KD");
    curriculum.run(&left)
}

fn shipped_teacher(curriculum: &Curriculum) -> Shipped {
    let [first_stage, restart_stage, mixed_stage] = &curriculum.teacher_stages;
    Shipped {
        name: "teacher".into(),
        preset: None,
        run: curriculum.teacher().to_path_buf(),
        title: "wav2vec 2.0 teacher".into(),
        training: format!(
            "Trained from random weights in three stages: first on the 1 s corpus, where the \
             word fills most of the clip; then again on it from those weights, the learning rate \
             raised back (a warm restart); then on the mixed-length corpus, where it has to \
             find the word.\n\n{}\nIts encoder loads in Hugging Face transformers (`Wav2Vec2Model.from_pretrained` \
             on this folder); its head, the paper's fully connected layer on the first frame \
             (`classifier.*`), is one that transformers' classes lack (they mean-pool a \
             projection), so `scripts/oracle/default_teacher.py` applies it to transformers' \
             first frame and compares the logits with `tempokd inspect`.\n",
            stages(&[
                ("1 s clips", first_stage),
                ("1 s clips, warm restart", restart_stage),
                ("every length", mixed_stage)
            ])
        ),
    }
}

/// `preset` without KD, and with KD at the λ of best validation accuracy.
fn shipped_students(runs: &StudentRuns) -> Vec<Shipped> {
    let StudentRuns {
        preset,
        words_stage,
        baseline,
        distilled,
    } = runs;
    let preset = *preset;
    let mut shipped = vec![Shipped {
        name: preset.name().into(),
        preset: Some(preset),
        run: baseline.dir.clone(),
        title: format!("{} student without KD", preset.name()),
        training: format!(
            "Trained with the task loss only (λ = 0), in two stages: first on the 1 s corpus, \
             where the word fills most of the clip, then from those weights on the \
             mixed-length corpus.\n\n{}",
            stages(&[("1 s clips", words_stage), ("every length", baseline)])
        ),
    }];
    let tried: Vec<(&Job, f32, f32)> = (distilled.iter())
        .map(|(lambda, job)| (job, *lambda, validation_accuracy(&job.dir)))
        .collect();
    let Some((best, lambda, _)) = tried.iter().max_by(|a, b| a.2.total_cmp(&b.2)) else {
        return shipped;
    };
    let mut sweep = String::from("| λ | validation accuracy |\n|---|---|\n");
    let _ = writeln!(
        sweep,
        "| 0 (without KD) | {} |",
        validation_text(&validation(&baseline.dir))
    );
    for (job, lambda, _) in &tried {
        let _ = writeln!(
            sweep,
            "| {lambda} | {} |",
            validation_text(&validation(&job.dir))
        );
    }
    shipped.push(Shipped {
        name: format!("{}-kd", preset.name()),
        preset: Some(preset),
        run: best.dir.clone(),
        title: format!("{} student with temporal KD (λ = {lambda})", preset.name()),
        training: format!(
            "Trained in two stages: first on the 1 s corpus without KD (the same first stage \
             as the student without KD), then from those weights on the mixed-length corpus \
             with L = L_cls + λ·KL(a_T ‖ a_S): the teacher's first-frame attention rollout \
             (the `teacher` model here) {}, distilled into the student's temporal attention. \
             Of the λ > 0 tried, λ = {lambda} had the best validation accuracy (λ = 0 is the \
             student without KD, shipped beside it):\n\n{sweep}\n{}",
            KdTarget::default(),
            stages(&[("1 s clips", words_stage), ("every length", best)])
        ),
    });
    shipped
}

/// Scores every shipped model and writes it with its card into `args.out`, then the index and
/// the overview of all their scores.
fn write_models(
    args: &DefaultsArgs,
    curriculum: &Curriculum,
    shipped: &[Shipped],
) -> Result<(), String> {
    println!("== scoring and writing the models");
    let test_dir = &curriculum.test_dir;
    let check_set = check_set(&args.check_set, test_dir)?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let context = CardContext {
        words: curriculum.words.command(&curriculum.words_dir),
        mixed: curriculum.mixed.command(&curriculum.mixed_dir),
        test: curriculum.test.command(test_dir),
        underlying_voices: underlying_voices(&[&curriculum.mixed_dir, test_dir])?,
        test_dir: test_dir.clone(),
        check_set,
        seed: args.seed,
        synthesizers: synthesizers_text(&curriculum.synthesizers),
        command: args.command(),
    };
    // Scoring keeps about one core busy per model, like training.
    let bar = crate::progress::bar(shipped.len(), "models");
    let written = parallel::map(shipped, TRAINING_PROCESSES, |model| {
        let entry = ship(model, &args.out.join(&model.name), &context);
        bar.inc(1);
        entry
    })?;
    bar.finish();
    let index = ModelIndex {
        models: written.iter().map(|model| model.entry.clone()).collect(),
    };
    index.write(&args.out)?;
    let overview_path = args.out.join("README.md");
    std::fs::write(&overview_path, overview(&written, &context))
        .map_err(|e| format!("{}: {e}", overview_path.display()))
}

/// A card's account of a model's training stages: each one's steps, best validation step (and
/// whether it was still improving at its last scoring), minutes and machine, then the commands.
fn stages(stages: &[(&str, &Job)]) -> String {
    let mut text = String::from(
        "| stage | steps | best validation step | validation accuracy | minutes | machine |\n\
         |---|---|---|---|---|---|\n",
    );
    for (name, job) in stages {
        let record = TrainingRecord::<CommonSettings>::read(&job.dir).ok();
        let (steps, best, seconds) = record
            .as_ref()
            .map_or((0, 0, 0.0), |r| (r.settings.steps, r.best_step, r.seconds));
        let still_improving = match record
            .as_ref()
            .is_some_and(TrainingRecord::best_at_last_scoring)
        {
            true => " (still improving at its last scoring)",
            false => "",
        };
        // Runs on the CPU (all of them before the device was recorded) name only the machine.
        let gpu = match record
            .as_ref()
            .and_then(|r| r.device.as_ref().zip(Some(&r.replicas)))
        {
            Some((device @ Placement::Gpu { .. }, replicas)) if replicas.is_empty() => {
                format!(", {device}")
            }
            Some((device @ Placement::Gpu { .. }, replicas)) => {
                format!(", {} GPUs data parallel ({device}, …)", 1 + replicas.len())
            }
            _ => String::new(),
        };
        let validation = record.and_then(|r| r.validation).unwrap_or_default();
        let _ = writeln!(
            text,
            "| {name} | {steps} | {best}{still_improving} | {} | {:.1} | {}{gpu} |",
            validation_text(&validation),
            seconds / 60.0,
            job.machine()
                .unwrap_or_else(|| "not recorded by its run".into())
        );
    }
    text.push_str("\n```\n");
    for (_, job) in stages {
        let _ = writeln!(text, "{}", job.command());
    }
    text.push_str("```\n");
    text
}

/// The run's scores on the validation split at its best step; zeros for a run whose record is
/// missing or unreadable.
fn validation(run: &Path) -> Evaluation {
    TrainingRecord::<CommonSettings>::read(run)
        .ok()
        .and_then(|record| record.validation)
        .unwrap_or_default()
}

fn validation_accuracy(run: &Path) -> f32 {
    validation(run).accuracy
}

/// Validation accuracy with its interval and n, for a card.
fn validation_text(evaluation: &Evaluation) -> String {
    format!(
        "{}, n = {}",
        train_and_eval::accuracy_text(evaluation, 2),
        evaluation.n
    )
}

/// The check set in `dir`, made from the first test clips of each class at each check length
/// of `test` unless `dir` already holds one (it is fixed once made).
fn check_set(dir: &Path, test: &Path) -> Result<PathBuf, String> {
    if dir.join("manifest.csv").is_file() {
        return Ok(dir.to_path_buf());
    }
    let dataset = Dataset::open(test).map_err(|e| e.to_string())?;
    let mut rows = String::from("file,label,start_s,end_s\n");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for label in &dataset.labels {
        for length in CHECK_LENGTHS {
            let mut taken = 0;
            for example in dataset.split(Split::Test) {
                if taken == CHECK_CLIPS {
                    break;
                }
                if example.labels.first() != Some(label) {
                    continue;
                }
                let samples = dataset.audio(example).map_err(|e| e.to_string())?;
                if (samples.len() as f32 / MODEL_SAMPLE_RATE as f32 - length).abs() > 0.01 {
                    continue;
                }
                let name = Path::new(&example.file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("{}: no file name", example.file))?;
                std::fs::copy(dataset.path(example), dir.join(&name))
                    .map_err(|e| format!("{}: {e}", dataset.path(example).display()))?;
                let (start, end) = example.window.map_or((String::new(), String::new()), |w| {
                    (format!("{:.3}", w.start_s), format!("{:.3}", w.end_s))
                });
                let _ = writeln!(rows, "{name},{label},{start},{end}");
                taken += 1;
            }
        }
    }
    let manifest = dir.join("manifest.csv");
    std::fs::write(&manifest, rows).map_err(|e| format!("{}: {e}", manifest.display()))?;
    Ok(dir.to_path_buf())
}

/// What every card says about the data.
struct CardContext {
    words: String,
    mixed: String,
    test: String,
    /// Underlying voices of the train, validation and test splits.
    underlying_voices: [usize; 3],
    test_dir: PathBuf,
    check_set: PathBuf,
    seed: u64,
    /// "espeak-ng and flite".
    synthesizers: String,
    /// The `defaults` command that writes the models ([`DefaultsArgs::command`]).
    command: String,
}

/// A model as written: its `index.json` entry and its row of the overview's table.
struct ShippedModel {
    entry: IndexedModel,
    row: String,
}

/// `static/models/README.md`: every shipped model's test scores in one table, which README
/// quotes.
fn overview(models: &[ShippedModel], context: &CardContext) -> String {
    let [train, validation, test] = context.underlying_voices;
    let mut text = format!(
        "# TempoKD's default models\n\nWritten by `{}` with each model's card \
         (`<name>/README.md`). Test corpus: ",
        context.command
    );
    let _ = writeln!(
        text,
        "{test} underlying voices never trained on ({train} in training, {validation} in \
         validation). Cells: accuracy with its Wilson 95 % interval / localisation (the share \
         of the model's temporal map inside the keyword window) with its bootstrap 95 % \
         interval; n clips per column in the header.\n"
    );
    let header = models
        .first()
        .map(|model| {
            (model.entry.scores.iter())
                .map(|score| format!("{} (n = {})", score.clips, score.n))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "| model | parameters | size | {} |",
        header.join(" | ")
    );
    let _ = writeln!(text, "|---|---|---|{}", "---|".repeat(header.len()));
    for model in models {
        let _ = writeln!(text, "{}", model.row);
    }
    text
}

/// Copies a model's files into `out`, scores it and writes its card.
fn ship(model: &Shipped, out: &Path, context: &CardContext) -> Result<ShippedModel, String> {
    copy_model_files(&model.run, out)?;
    let (kind, params, description) = describe(model, out)?;
    let bytes = std::fs::metadata(out.join("model.safetensors"))
        .map_err(|e| format!("{}: {e}", out.display()))?
        .len();
    let mut scores = Vec::new();
    for length in LENGTHS {
        let (evaluation, _) = evaluate(
            out,
            &context.test_dir,
            Split::Test,
            Some(length),
            Precision::F32,
            ClipLoading::Memory,
            &train_and_eval::cpu(),
        )?;
        scores.push((format!("test, L = {length} s"), evaluation));
    }
    let (check, _) = evaluate(
        out,
        &context.check_set,
        Split::Test,
        None,
        Precision::F32,
        ClipLoading::Memory,
        &train_and_eval::cpu(),
    )?;
    scores.push(("check set".into(), check));
    let facts = CardFacts {
        description: &description,
        params,
        bytes,
        scores: &scores,
    };
    let card_path = out.join("README.md");
    std::fs::write(&card_path, card(model, &facts, context))
        .map_err(|e| format!("{}: {e}", card_path.display()))?;
    let cells: Vec<String> = (scores.iter())
        .map(|(_, evaluation)| train_and_eval::score_text(evaluation))
        .collect();
    let row = format!(
        "| `{}` | {params} | {:.2} MB | {} |",
        model.name,
        bytes as f64 / 1e6,
        cells.join(" | ")
    );
    let entry = IndexedModel {
        name: model.name.clone(),
        kind,
        title: model.title.clone(),
        params,
        bytes,
        scores: (scores.iter())
            .map(|(clips, evaluation)| IndexedScore::new(clips, evaluation))
            .collect(),
    };
    Ok(ShippedModel { entry, row })
}

/// A model folder's files, from its run into `out`.
fn copy_model_files(run: &Path, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for file in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        let from = run.join(file);
        if from.is_file() {
            std::fs::copy(&from, out.join(file)).map_err(|e| format!("{}: {e}", from.display()))?;
        }
    }
    Ok(())
}

/// The shipped model's kind, deployed parameters and architecture in words, from its folder.
fn describe(model: &Shipped, out: &Path) -> Result<(ModelKind, usize, String), String> {
    Ok(match train_and_eval::load_model(out)? {
        Model::Teacher(teacher) => (
            ModelKind::Teacher,
            teacher.params(),
            teacher_shape(&teacher),
        ),
        Model::Student(student) => (
            ModelKind::Student,
            student.deployed_params(),
            format!(
                "{} ({} parameters more in the training-only attention query)",
                model.preset.map_or("student", Preset::name),
                student.training_only_params()
            ),
        ),
    })
}

/// What a card states about its model beyond how it was made.
struct CardFacts<'a> {
    description: &'a str,
    params: usize,
    bytes: u64,
    /// Each row of the score table; the check set's is last.
    scores: &'a [(String, Evaluation)],
}

/// A model's card (its `README.md`).
fn card(model: &Shipped, facts: &CardFacts<'_>, context: &CardContext) -> String {
    let CardFacts {
        description,
        params,
        bytes,
        scores,
    } = facts;
    let mut card = String::new();
    let _ = writeln!(card, "# TempoKD default model: {}\n", model.title);
    let _ = writeln!(
        card,
        "Trained here from random weights by TempoKD's own commands on Synthetic Noisy Keywords \
         (keywords spoken by {} at a random place inside noise, 0–20 dB SNR). All default \
         models, and this card, are regenerated by one command from the repository root:\n\n\
         ```\n{}\n```\n",
        context.synthesizers, context.command
    );
    let _ = writeln!(card, "| | |\n|---|---|");
    let _ = writeln!(card, "| architecture | {description} |");
    let _ = writeln!(card, "| parameters | {params} |");
    let _ = writeln!(
        card,
        "| size | model.safetensors, {:.2} MB ({bytes} bytes) |",
        *bytes as f64 / 1e6
    );
    let _ = writeln!(card, "| seed | {} |", context.seed);
    let _ = writeln!(card, "\n## Data\n");
    let [train, validation, test] = context.underlying_voices;
    let _ = writeln!(
        card,
        "Three corpora from the same seed and voices, so their split by underlying voice \
         (espeak-ng accent + variant, recorded speaker; 80 % of espeak-ng's variants and of the \
         recorded speakers for training, 10 % for validation, 10 % for test) is the same: {train} \
         underlying voices in training, {validation} in validation and {test} in test, none in \
         two splits. The training clips vary by speaker, room and microphone effects; the test \
         corpus is the test split alone, about 1,000 clips per length:\n\n```\n{}\n{}\n{}\n\
         ```\n",
        context.words, context.mixed, context.test
    );
    let _ = writeln!(card, "## Training\n\n{}", model.training);
    let _ = writeln!(
        card,
        "## Scores\n\nMeasured by `tempokd eval` (`--length L` for each row) on the test \
         corpus, whose underlying voices were never trained on. Accuracy with its Wilson 95 % \
         interval; localisation, the share of the model's temporal attention inside the keyword \
         window, with its bootstrap 95 % interval over clips.\n"
    );
    let _ = writeln!(
        card,
        "| clips | n | accuracy | localisation |\n|---|---|---|---|"
    );
    for (name, evaluation) in scores.iter() {
        let _ = writeln!(card, "{}", score_row(name, evaluation));
    }
    let check_n = scores.last().map_or(0, |(_, check)| check.n);
    let _ = writeln!(
        card,
        "\nCheck set: the {check_n} clips in `{}` (the first {CHECK_CLIPS} test clips of each \
         class at 1 s and at 2 s). `cargo test -p tempokd-cli --test models` reruns `tempokd \
         eval` on them and holds this card to its weights.",
        context.check_set.display()
    );
    card
}

/// One row of a card's score table, each score with its 95 % interval; the models test reads
/// the check set's row back.
fn score_row(name: &str, evaluation: &Evaluation) -> String {
    format!(
        "| {name} | {} | {} | {} |",
        evaluation.n,
        train_and_eval::accuracy_text(evaluation, 2),
        train_and_eval::localisation_text(evaluation, 3).unwrap_or_else(|| "–".into())
    )
}

fn teacher_shape(teacher: &Teacher) -> String {
    let config = teacher.config();
    format!(
        "wav2vec 2.0 (Hugging Face `Wav2Vec2ForSequenceClassification` layout): {} conv layers \
         of {} channels, {} transformer layers of width {} with {} heads, classifier on the \
         first frame (`\"classifier_pooling\": \"first_frame\"`)",
        config.conv_dim.len(),
        config.conv_dim.first().copied().unwrap_or_default(),
        config.num_hidden_layers,
        config.hidden_size,
        config.num_attention_heads
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    fn parsed(args: &[&str]) -> DefaultsArgs {
        let matches = DefaultsArgs::augment_args(clap::Command::new("defaults"))
            .try_get_matches_from(std::iter::once("defaults").chain(args.iter().copied()))
            .unwrap();
        DefaultsArgs::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn the_cards_command_names_every_argument_not_left_at_its_default() {
        let plain = "cargo run --release -p tempokd-cli -- defaults";
        assert_eq!(parsed(&[]).command(), plain);
        assert_eq!(parsed(&["--seed", &SEED.to_string()]).command(), plain);
        let given = parsed(&[
            "--synthesizers",
            "espeak-ng,flite,mbrola,rhvoice,pico,kokoro",
            "--work",
            "target/six",
            "--stages",
            "stages/six",
            "--lambdas",
            "0.25",
            "--device",
            "wgpu",
        ]);
        assert_eq!(
            given.command(),
            format!(
                "{plain} --work target/six --stages stages/six --lambdas 0.25 --synthesizers \
                 espeak-ng,flite,mbrola,rhvoice,pico,kokoro --device wgpu"
            )
        );
    }
}

//! Any model folder, teacher or student, told apart by its `config.json`: loaded and read one
//! way by the command line and the page's worker.

#[cfg(feature = "tensors")]
mod index;
mod kind;
mod reading;

#[cfg(feature = "tensors")]
pub use index::{IndexedModel, IndexedScore, ModelIndex};
pub use kind::ModelKind;
pub use reading::{Reading, ReadingRequest, TeacherAttention, TimeMap};

#[cfg(feature = "tensors")]
use crate::{
    students::{Student, StudentError, StudentFiles},
    teacher::{Teacher, TeacherError, TeacherFiles},
};
#[cfg(feature = "tensors")]
use burn::tensor::Device;
#[cfg(feature = "tensors")]
use thiserror::Error;

#[cfg(feature = "tensors")]
#[derive(Clone, Debug, Error, PartialEq)]
pub enum ModelError {
    /// `config.json` is unreadable or describes no model; the message says which.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Teacher(#[from] TeacherError),
    #[error(transparent)]
    Student(#[from] StudentError),
}

/// The files of a model folder, read by the caller (from disk, or fetched by the page).
#[cfg(feature = "tensors")]
pub struct FolderFiles<'a> {
    /// `config.json`: a student's names its `arch`, a teacher's is Hugging Face's.
    pub config: &'a str,
    /// `model.safetensors`
    pub weights: &'a [u8],
    /// A teacher's `preprocessor_config.json`, if its folder has one.
    pub preprocessor: Option<&'a str>,
}

/// A loaded teacher or student on one device.
#[cfg(feature = "tensors")]
pub enum Model {
    Teacher(Box<Teacher>),
    Student(Box<Student>),
}

#[cfg(feature = "tensors")]
impl Model {
    /// The kind from `config.json`, then that kind's loader; nothing loads half-way.
    pub fn load(files: FolderFiles<'_>, device: &Device) -> Result<Self, ModelError> {
        match ModelKind::of_config(files.config).map_err(ModelError::Config)? {
            ModelKind::Student => {
                let files = StudentFiles {
                    config: files.config,
                    weights: files.weights,
                };
                Ok(Self::Student(Box::new(Student::load(files, device)?)))
            }
            ModelKind::Teacher => {
                let files = TeacherFiles {
                    config: files.config,
                    preprocessor: files.preprocessor,
                    weights: files.weights,
                };
                Ok(Self::Teacher(Box::new(Teacher::load(files, device)?)))
            }
        }
    }

    /// A model folder on disk, read through each kind's own (size-capped) directory loader.
    /// A [`ModelError::Config`] names the file.
    #[cfg(not(target_family = "wasm"))]
    pub fn load_dir(dir: &std::path::Path, device: &Device) -> Result<Self, ModelError> {
        use crate::capped_read::{MAX_CONFIG_BYTES, read_capped_text};
        let path = dir.join("config.json");
        let config = read_capped_text(&path, MAX_CONFIG_BYTES, "a config file")
            .map_err(ModelError::Config)?;
        let kind = ModelKind::of_config(&config)
            .map_err(|why| ModelError::Config(format!("{}: {why}", path.display())))?;
        match kind {
            ModelKind::Student => Ok(Self::Student(Box::new(Student::load_dir(dir, device)?))),
            ModelKind::Teacher => Ok(Self::Teacher(Box::new(Teacher::load_dir(dir, device)?))),
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Teacher(_) => ModelKind::Teacher,
            Self::Student(_) => ModelKind::Student,
        }
    }

    /// The class names, in the order of the model's outputs.
    pub fn labels(&self) -> &[String] {
        match self {
            Self::Teacher(teacher) => teacher.labels(),
            Self::Student(student) => student.labels(),
        }
    }
}

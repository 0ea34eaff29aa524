//! The page's components, each small and owning the signals it alone uses.

mod app;
mod audio_input;
mod calibration_view;
mod clip_view;
mod deployment_card;
mod device_badge;
mod downloads;
mod error_banner;
mod live_view;
mod model_loading;
mod noise_settings;
mod other_models;
mod own_words;
mod readings;
mod record_button;
mod teacher_explorer;
mod time_canvas;
mod trainer;

pub use app::App;
pub use audio_input::AudioInput;
pub use calibration_view::CalibrationPanel;
pub use clip_view::ClipView;
pub use deployment_card::DeploymentCardView;
pub use device_badge::DeviceBadge;
pub use downloads::Downloads;
pub use error_banner::ErrorBanner;
pub use live_view::LiveView;
pub use model_loading::ModelLoading;
pub use noise_settings::NoiseSettings;
pub use other_models::OtherModels;
pub use own_words::OwnWords;
pub use readings::{OnnxStatus, Readings};
pub use record_button::RecordButton;
pub use teacher_explorer::TeacherExplorer;
pub use time_canvas::TimeCanvas;
pub use trainer::Trainer;

//! The page's components, each small and owning the signals it alone uses.

mod app;
mod audio_input;
mod clip_view;
mod device_badge;
mod error_banner;
mod model_loading;
mod readings;
mod record_button;

pub use app::App;
pub use audio_input::AudioInput;
pub use clip_view::ClipView;
pub use device_badge::DeviceBadge;
pub use error_banner::ErrorBanner;
pub use model_loading::ModelLoading;
pub use readings::Readings;
pub use record_button::RecordButton;

fn main() {
    tempokd_app::install_panic_hook();
    leptos::mount::mount_to_body(tempokd_app::App);
}

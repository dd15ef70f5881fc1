//! `keelson deprecations` and the deprecated-API scanners.

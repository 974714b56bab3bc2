//! The browser the dashboard tests drive (Debian's headless Chromium through chromedriver,
//! one at a time) and the helpers they share.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::common::TestServer;

/// One browser at a time: two cores do not run several Chromiums well.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A headless Chromium session, the only one running while it lives.
pub struct Browser {
    driver: Child,
    pub client: Client,
    _one: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    pub async fn start() -> Option<Browser> {
        if std::env::var("NCSD_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("NCSD_SKIP_BROWSER=1: browser test skipped");
            return None;
        }
        let one = ONE_AT_A_TIME.lock().await;
        // fantoccini's HTTPS connector needs a process-wide rustls provider; ncsd builds with ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = crate::common::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; scripts/test installs it)");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-dev-shm-usage",
                         "--window-size=1280,1400"]
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let built = ClientBuilder::rustls()
                .expect("rustls")
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match built {
                Ok(client) => {
                    return Some(Browser {
                        driver,
                        client,
                        _one: one,
                    })
                }
                Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/dashboard-screenshots"
        );
        std::fs::create_dir_all(dir).unwrap();
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }

    /// The texts of the elements `css` selects; an element gone meanwhile (the page being
    /// replaced) is left out, so callers waiting for a page can poll this.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
        {
            if let Ok(t) = e.text().await {
                out.push(t);
            }
        }
        out
    }

    pub async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// The test's last screenshot, then the browser and the server stopped.
    pub async fn finish(self, shot: &str, srv: TestServer) {
        self.screenshot(shot).await;
        self.stop().await;
        srv.stop().await;
    }
}

/// Deliver realistic traffic with the real `ncsd simulate`.
pub fn simulate(srv: &TestServer, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["simulate", "--url", &format!("{}/ncs", srv.base)])
        .args(["--secret", crate::common::SECRET, "--seed", "11"])
        .args(args)
        .output()
        .expect("ncsd simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub async fn count_sessions(srv: &TestServer, query: &str) -> usize {
    let (s, v) = srv.get(&format!("/v1/sessions?limit=1000{query}")).await;
    assert_eq!(s, 200);
    v["sessions"].as_array().unwrap().len()
}

pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {within:?}");
}

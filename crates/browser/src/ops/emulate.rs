//! `emulate`: device metrics, user agent, colour scheme and locale for every tab
//! of a session (applied to each open tab and to tabs opened later).

use browserfarm_protocol::{ColorScheme, Device, Effect, EmulateArgs, Viewport};
use serde_json::json;

use crate::tab::cdp::{OpResult, Tab};

/// Screen, pixel ratio, mobile and touch flags, and user agent of a preset.
struct Preset {
    width: u32,
    height: u32,
    scale: f64,
    mobile: bool,
    user_agent: Option<&'static str>,
}

fn preset(device: Device) -> Preset {
    match device {
        Device::Desktop => Preset {
            width: 1280,
            height: 720,
            scale: 1.0,
            mobile: false,
            user_agent: None,
        },
        Device::Iphone15 => Preset {
            width: 393,
            height: 852,
            scale: 3.0,
            mobile: true,
            user_agent: Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            ),
        },
        Device::Pixel7 => Preset {
            width: 412,
            height: 915,
            scale: 2.625,
            mobile: true,
            user_agent: Some(
                "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
            ),
        },
        Device::Ipad => Preset {
            width: 820,
            height: 1180,
            scale: 2.0,
            mobile: true,
            user_agent: Some(
                "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, \
                 like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            ),
        },
    }
}

/// Applies the whole emulation state `e` to one tab, starting from the pool's
/// default viewport, so applying it twice or to a fresh tab gives the same page.
pub(crate) async fn apply(tab: Tab<'_>, e: &EmulateArgs, default: (u32, u32)) -> OpResult<()> {
    let base = e.device.map(preset).unwrap_or(Preset {
        width: default.0,
        height: default.1,
        scale: 1.0,
        mobile: false,
        user_agent: None,
    });
    let Viewport { width, height } = e.viewport.unwrap_or(Viewport {
        width: base.width,
        height: base.height,
    });
    tab.raw(
        "emulating the viewport",
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": height, "deviceScaleFactor": base.scale, "mobile": base.mobile}),
    )
    .await?;
    tab.raw(
        "emulating touch",
        "Emulation.setTouchEmulationEnabled",
        json!({"enabled": base.mobile, "maxTouchPoints": if base.mobile { 5 } else { 1 }}),
    )
    .await?;
    let user_agent = e.user_agent.as_deref().or(base.user_agent);
    if user_agent.is_some() || e.locale.is_some() {
        // An override needs a user agent; keep the browser's own when only the
        // locale changes.
        let ua = match user_agent {
            Some(ua) => ua.to_owned(),
            None => {
                tab.eval::<String>("reading the user agent", "navigator.userAgent")
                    .await?
            }
        };
        let mut params = json!({"userAgent": ua});
        if let Some(locale) = &e.locale {
            params["acceptLanguage"] = json!(locale);
        }
        tab.raw(
            "emulating the user agent",
            "Network.setUserAgentOverride",
            params,
        )
        .await?;
    }
    tab.raw(
        "emulating the locale",
        "Emulation.setLocaleOverride",
        match &e.locale {
            Some(l) => json!({"locale": l}),
            None => json!({}),
        },
    )
    .await
    .or_else(|err| match err {
        // Chromium refuses to set the same override twice; that is no failure.
        crate::tab::cdp::OpError::Fault {
            fault: crate::tab::cdp::Fault::Protocol(m),
            ..
        } if m.contains("Another locale override is already in effect") => Ok(json!({})),
        other => Err(other),
    })?;
    let scheme = match e.color_scheme {
        Some(ColorScheme::Light) => "light",
        Some(ColorScheme::Dark) => "dark",
        Some(ColorScheme::NoPreference) => "no-preference",
        None => "",
    };
    tab.raw(
        "emulating the colour scheme",
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
    )
    .await?;
    Ok(())
}

/// What `emulate` reports: the emulation every tab has now, with the viewport
/// it comes to (`default` is the pool's).
pub(crate) fn effect(e: &EmulateArgs, default: (u32, u32)) -> Effect {
    let base = e.device.map(preset);
    let (width, height) = match (e.viewport, &base) {
        (Some(v), _) => (v.width, v.height),
        (None, Some(p)) => (p.width, p.height),
        (None, None) => default,
    };
    Effect::Emulated {
        viewport: Viewport { width, height },
        device: e.device,
        user_agent: e.user_agent.is_some(),
        color_scheme: e.color_scheme,
        locale: e.locale.clone(),
    }
}

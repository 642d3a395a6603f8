/* Browser tests of the admin page (/admin) against a real gcron-service,
 * gcron-agent and etcd started by admin.sh. Drives Debian's chromium
 * headless through playwright-core. Each step prints "ok - NAME" or
 * "FAIL - NAME: why"; the last line is "N passed, M failed".
 *
 * Environment (set by admin.sh):
 *   GC_E2E_BASE       http://127.0.0.1:PORT of the service
 *   GC_E2E_ARTIFACTS  directory for screenshots
 *   GC_E2E_AGENT_IP   client_ip the agent registers as
 *   GC_E2E_PROJECT    project ID the agent serves (the first one created)
 */
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const BASE = process.env.GC_E2E_BASE;
const ART = process.env.GC_E2E_ARTIFACTS || path.join(__dirname, "../../build/e2e-artifacts");
const AGENT_IP = process.env.GC_E2E_AGENT_IP || "127.0.0.1";
const PROJECT_ID = Number(process.env.GC_E2E_PROJECT || 1);
const REPORT_TOKEN = process.env.GC_E2E_REPORT_TOKEN || "";
/* Generous bounds: the machine is shared and slow at times; a bound here is
 * "it happens at all", not a performance assertion. */
const WAIT_MS = 30000;
const RUN_WAIT_MS = 60000;

const tag = String(process.pid);
const NEW_ADMIN_PW = `e2e-Admin-${tag}`;
const USER = { name: "Bob Operator", account: `bob${tag}`, password: `bob-pw-${tag}` };
const RESET_PW = `bob-reset-${tag}`;
const CAROL = `carol${tag}`;
const PROJECT = `billing-${tag}`;
const OTHER_PROJECT = `other-${tag}`;
const HELLO = `hello-${tag}`;
const LONG = `long-${tag}`;
const MARK = `e2e-output-${tag}`;

let browser, context, page, profileDir;
const results = [];
const pageErrors = [];
const foreignRequests = [];
let shotNo = 0;

function log(line) {
	process.stdout.write(line + "\n");
}

let blockedBy = null; /* a failed step every later one depends on */

/* Run one named check. A failed `critical` step (signing in, creating the
 * project) fails the rest at once instead of letting each time out. */
async function step(name, fn, critical) {
	const t0 = Date.now();
	if (blockedBy) {
		results.push([name, false]);
		log(`FAIL - ${name}: not run, "${blockedBy}" failed`);
		return;
	}
	try {
		await fn();
		results.push([name, true]);
		log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
	} catch (err) {
		results.push([name, false]);
		log(`FAIL - ${name}: ${String(err && err.message || err).split("\n")[0]}`);
		await shot(`failed-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`).catch(() => {});
		if (critical) blockedBy = name;
	}
}

function check(cond, what) {
	if (!cond) throw new Error(what);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Poll `fn` until it returns something truthy or the deadline passes. */
async function until(what, fn, timeout) {
	const end = Date.now() + (timeout || WAIT_MS);
	let last = null;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
		} catch (e) {
			last = e;
		}
		if (Date.now() > end) {
			throw new Error(`timed out after ${(timeout || WAIT_MS) / 1000} s waiting for ${what}` +
				(last ? ` (${String(last.message).split("\n")[0]})` : ""));
		}
		await sleep(250);
	}
}

async function shot(name, fullPage) {
	shotNo++;
	const file = path.join(ART, `${String(shotNo).padStart(2, "0")}-${name}.png`);
	await page.screenshot({ path: file, fullPage: !!fullPage });
	return file;
}

const text = async (sel) => ((await page.locator(sel).first().textContent({ timeout: WAIT_MS })) || "").trim();
const visible = (sel) => page.locator(sel).first().waitFor({ state: "visible", timeout: WAIT_MS });
const hidden = (sel) => page.locator(sel).first().waitFor({ state: "hidden", timeout: WAIT_MS });
const heading = (t) => until(`heading "${t}"`, async () => (await text("#view h1")) === t);

async function go(hash) {
	await page.evaluate((h) => { location.hash = h; }, hash);
}

async function login(account, password) {
	await visible("#login-form");
	await page.fill("#login-account", account);
	await page.fill("#login-password", password);
	await page.click("#login-form button[type=submit]");
}

async function logout() {
	await page.setViewportSize({ width: 1280, height: 860 });
	await page.click("#btn-logout");
	await visible("#login-form");
}

const taskRow = (name) => page.locator("#tasks-table tbody tr", { has: page.locator(".task-name", { hasText: new RegExp(`^${name}$`) }) });

async function openProject(title) {
	await go("#/projects");
	await heading("Projects");
	await page.locator("#projects-table a.strong", { hasText: new RegExp(`^${title}$`) }).click();
	await heading(title);
}

/* Fill and save the task dialog. */
async function createTask(name, cron, command) {
	await page.click("#btn-new-task");
	await visible("#dlg-task");
	await page.fill("#task-name", name);
	await page.fill("#task-cron", cron);
	await page.fill("#task-command", command);
	await page.click("#task-form button[type=submit]");
	await hidden("#dlg-task");
	await taskRow(name).waitFor({ timeout: WAIT_MS });
}

async function main() {
	fs.mkdirSync(ART, { recursive: true });
	for (const f of fs.readdirSync(ART)) if (f.endsWith(".png")) fs.rmSync(path.join(ART, f));
	profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "gc-e2e-chromium-"));
	context = await chromium.launchPersistentContext(profileDir, {
		executablePath: "/usr/bin/chromium",
		headless: true,
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"],
		viewport: { width: 1280, height: 860 },
		timezoneId: "UTC",
		locale: "en-US",
	});
	page = context.pages()[0] || await context.newPage();
	page.setDefaultTimeout(WAIT_MS);
	page.on("pageerror", (e) => pageErrors.push(e.message));
	page.on("console", (m) => {
		if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
	});
	page.on("request", (r) => {
		const u = r.url();
		if (!u.startsWith(BASE + "/") && !u.startsWith("data:")) foreignRequests.push(u);
	});

	await step("the page is served at /admin with its security headers", async () => {
		const res = await page.goto(BASE + "/admin");
		check(res && res.ok(), `GET /admin answered ${res && res.status()}`);
		check(page.url() === BASE + "/admin/", `expected a redirect to /admin/, at ${page.url()}`);
		const csp = res.headers()["content-security-policy"] || "";
		check(/script-src 'self'/.test(csp), `no script-src 'self' in CSP: "${csp}"`);
		await visible("#login-form");
		await shot("login");
	});

	await step("a wrong password shows the API's message next to the password field", async () => {
		await login("admin", "not-the-password");
		await visible('#login-form [data-error-for="password"]');
		const msg = await text('#login-form [data-error-for="password"]');
		check(msg.length > 3, "empty error message");
		check((await page.getAttribute("#login-password", "aria-invalid")) === "true", "password field not marked invalid");
		await shot("login-wrong-password");
	});

	await step("admin signs in; a banner warns about the default password", async () => {
		await login("admin", "123456");
		await heading("Dashboard");
		await visible("#default-pw-banner");
		check((await text("#who-name")).includes("admin"), "signed-in user not shown");
		await visible("#nav [data-nav=users]");
	}, true);

	await step("create a project", async () => {
		await go("#/projects");
		await heading("Projects");
		await page.click("#btn-new-project");
		await visible("#dlg-project");
		await page.fill("#project-title", PROJECT);
		await page.fill("#project-remark", "invoices, nightly");
		await page.click("#project-form button[type=submit]");
		await hidden("#dlg-project");
		const row = page.locator("#projects-table tbody tr", { hasText: PROJECT });
		await row.waitFor();
		const id = Number(await row.getAttribute("data-project-id"));
		check(id === PROJECT_ID, `project got ID ${id}, the agent serves ${PROJECT_ID}`);
		await shot("projects");
	}, true);

	await step("a duplicate project title is refused with the message next to the title", async () => {
		await page.click("#btn-new-project");
		await page.fill("#project-title", PROJECT);
		await page.click("#project-form button[type=submit]");
		await visible('#project-form [data-error-for="title"]');
		check((await text('#project-form [data-error-for="title"]')).length > 3, "no message");
		check(await page.locator("#dlg-project").isVisible(), "dialog closed despite the error");
		await page.click("#dlg-project [data-close]");
		await hidden("#dlg-project");
	});

	await step("the empty cron field shows an example that does not look like a value", async () => {
		await openProject(PROJECT);
		await page.click("#btn-new-task");
		await visible("#dlg-task");
		check((await page.inputValue("#task-cron")) === "", "cron field not empty");
		const ph = await page.getAttribute("#task-cron", "placeholder");
		check(/^e\.g\. /.test(ph), `placeholder "${ph}" reads like a value`);
		const st = await page.$eval("#task-cron", (e) => {
			const p = getComputedStyle(e, "::placeholder");
			return { style: p.fontStyle, color: p.color, value: getComputedStyle(e).color };
		});
		check(st.style === "italic" && st.color !== st.value, `placeholder styled like a value: ${JSON.stringify(st)}`);
	});

	await step("a bad cron expression shows the cron engine's message at the field", async () => {
		await page.fill("#task-name", HELLO);
		await page.fill("#task-cron", "61 * * * * *");
		await visible("#task-cron-error");
		const msg = await text("#task-cron-error");
		check(/cron/i.test(msg) && msg.length > 10, `unhelpful message "${msg}"`);
		check((await page.getAttribute("#task-cron", "aria-invalid")) === "true", "cron field not marked invalid");
		check((await page.locator("#task-cron-preview li").count()) === 0, "preview shown for a bad expression");
		await shot("task-bad-cron");
	});

	await step("a good cron expression shows the next 5 fire times as it is typed", async () => {
		await page.fill("#task-cron", "");
		await page.type("#task-cron", "*/2 * * * * * *", { delay: 15 });
		await hidden("#task-cron-error");
		const times = await until("5 preview times 2 s apart", async () => {
			const ts = await page.$$eval("#task-cron-preview li time", (els) => els.map((e) => Date.parse(e.getAttribute("datetime"))));
			return ts.length === 5 && ts.every((t, i) => i === 0 || t - ts[i - 1] === 2000) ? ts : null;
		});
		check(times[0] > Date.now() - 5000, "preview starts in the past");
		/* A schedule that does not fire during the test: runs come from "Run now". */
		await page.fill("#task-cron", "0 30 4 1 1 * *");
		await until("yearly preview", async () => {
			const ts = await page.$$eval("#task-cron-preview li time", (els) => els.map((e) => e.getAttribute("datetime")));
			return ts.length === 5 && ts.every((t) => /-01-01T04:30:00/.test(t));
		});
		await shot("task-cron-preview");
	});

	await step("save the task; it is listed with its schedule and next run", async () => {
		await page.fill("#task-command", `echo ${MARK}; echo second line; echo to-stderr >&2`);
		await page.fill("#task-remark", "says hello");
		await page.click("#task-form button[type=submit]");
		await hidden("#dlg-task");
		const row = taskRow(HELLO);
		await row.waitFor();
		check((await row.locator("td").nth(1).textContent()).includes("0 30 4 1 1 * *"), "cron not shown");
		await until("next run time", async () => /-01-01 04:30:00/.test(await row.locator("td").nth(2).textContent()));
		check((await row.locator(".badge.scheduled").count()) === 1, "not shown as scheduled");
	});

	await step("pause and resume (in the row's More menu) save the task's status", async () => {
		const row = taskRow(HELLO);
		await row.locator("[data-action=more] summary").click();
		await row.locator("[data-action=toggle]").click();
		await row.locator(".badge.paused").waitFor();
		check(!(await row.locator("[data-action=more]").evaluate((d) => d.open)), "menu stays open after its action");
		await row.locator("[data-action=toggle]", { hasText: "Resume" }).waitFor({ state: "attached" });
		await page.reload();
		await taskRow(HELLO).locator(".badge.paused").waitFor();
		await taskRow(HELLO).locator("[data-action=more] summary").click();
		await taskRow(HELLO).locator("[data-action=toggle]").click();
		await taskRow(HELLO).locator(".badge.scheduled").waitFor();
	});

	await step("at 1366 px a task's actions fit on one line; the menu opens and closes", async () => {
		await page.setViewportSize({ width: 1366, height: 768 });
		const row = taskRow(HELLO);
		const tops = await row.locator(".btn-group").evaluate((g) =>
			Array.from(g.children).map((c) => Math.round(c.getBoundingClientRect().top)));
		check(tops.length === 5 && tops.every((t) => Math.abs(t - tops[0]) <= 2), `actions on several lines: tops ${tops}`);
		const over = await page.evaluate(() => {
			const t = document.querySelector("#tasks-table").getBoundingClientRect();
			const v = document.querySelector("#view").getBoundingClientRect();
			return Math.round(t.right - v.right);
		});
		check(over <= 1, `the task table is ${over}px wider than the page`);
		check(!(await row.locator("[data-action=delete]").isVisible()), "menu items shown while closed");
		await row.locator("[data-action=more] summary").click();
		await row.locator("[data-action=delete]").waitFor();
		check(await row.locator("[data-action=toggle]").isVisible(), "Pause not in the menu");
		for (const a of ["toggle", "delete"]) {
			const onTop = await row.locator(`[data-action=${a}]`).evaluate((b) => {
				const r = b.getBoundingClientRect();
				return b.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
			});
			check(onTop, `menu item ${a} is clipped or covered`);
		}
		const wraps = await row.locator(".btn-group .btn").evaluateAll((bs) =>
			bs.filter((b) => b.getBoundingClientRect().height > 40).map((b) => b.textContent));
		check(wraps.length === 0, `button labels wrap: ${wraps}`);
		await shot("task-menu-1366");
		await page.keyboard.press("Escape");
		await row.locator("[data-action=delete]").waitFor({ state: "hidden" });
		await row.locator("[data-action=more] summary").click();
		await page.click("#view h1");
		await row.locator("[data-action=delete]").waitFor({ state: "hidden" });
		await page.setViewportSize({ width: 1280, height: 860 });
	});

	await step("Kill of a task that is not running says so", async () => {
		const row = taskRow(HELLO);
		await row.locator("[data-action=kill]").click();
		await until("the row's message", async () => /not running/i.test(await row.locator(".row-msg").textContent()));
		check(!/kill sent/i.test(await row.locator(".row-msg").textContent()), "says kill sent");
	});

	await step("edit a task: the form opens filled in, with its preview, and saves", async () => {
		const row = taskRow(HELLO);
		await row.locator("[data-action=edit]").click();
		await visible("#dlg-task");
		check((await page.inputValue("#task-name")) === HELLO, "name not filled in");
		check((await page.inputValue("#task-cron")) === "0 30 4 1 1 * *", "cron not filled in");
		await page.locator("#task-cron-preview li").nth(4).waitFor();
		await page.fill("#task-remark", "says hello, edited");
		await page.click("#task-form button[type=submit]");
		await hidden("#dlg-task");
		await until("edited remark in the row", async () => (await row.locator("td").first().textContent()).includes("says hello, edited"));
	});

	await step("run now: the run's result and output appear without reloading", async () => {
		await page.evaluate(() => { window.__e2eNoReload = true; });
		const row = taskRow(HELLO);
		await row.locator("[data-action=run]").click();
		await until("last result OK", async () => (await row.locator("td").nth(5).textContent()).includes("OK"), RUN_WAIT_MS);
		check(await page.evaluate(() => window.__e2eNoReload === true), "the page reloaded");
		await shot("tasks-after-run");
		await row.locator("[data-action=logs]").click();
		await heading(`Logs of ${HELLO}`);
		const logRow = page.locator("#logs-table tbody tr").first();
		await logRow.waitFor();
		check((await logRow.locator("td").nth(4).textContent()).trim() === AGENT_IP, "agent IP not shown");
		check((await logRow.locator(".badge").textContent()).trim() === "OK", "run not OK");
		for (const i of [0, 1, 2]) check(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(await logRow.locator("td").nth(i).textContent()), `time column ${i} empty`);
		await shot("logs");
		await logRow.locator("[data-action=output]").click();
		await visible("#dlg-output");
		const out = await page.locator("#output-text").textContent();
		check(out.includes(MARK) && out.includes("second line") && out.includes("to-stderr"), `output is "${out.slice(0, 200)}"`);
		const ws = await page.$eval("#output-text", (e) => getComputedStyle(e).whiteSpace);
		check(ws === "pre-wrap", `output white-space is ${ws}`);
		await shot("log-output");
		await page.keyboard.press("Escape");
		await hidden("#dlg-output");
	});

	await step("a long task shows as running live, and Kill ends it", async () => {
		await openProject(PROJECT);
		await createTask(LONG, "0 30 4 1 1 * *", "echo started; sleep 300; echo never");
		const row = taskRow(LONG);
		await page.evaluate(() => { window.__e2eNoReload = true; });
		await row.locator("[data-action=run]").click();
		await row.locator(".badge.running").waitFor({ timeout: RUN_WAIT_MS });
		await shot("task-running");
		await row.locator("[data-action=kill]").click();
		await row.locator(".badge.running").waitFor({ state: "detached", timeout: WAIT_MS });
		await until("the killed run's result", async () => (await row.locator("td").nth(5).textContent()).includes("Error"), RUN_WAIT_MS);
		check(await page.evaluate(() => window.__e2eNoReload === true), "the page reloaded");
		await shot("task-killed");
	});

	await step("logs: errors-only filter and the killed run's output", async () => {
		await taskRow(LONG).locator("[data-action=logs]").click();
		await heading(`Logs of ${LONG}`);
		await page.check("#logs-errors-only");
		await until("errors-only in the URL", async () => page.url().includes("errors=1"));
		const logRow = page.locator("#logs-table tbody tr").first();
		await logRow.waitFor();
		check((await logRow.locator(".badge").textContent()).trim() === "Error", "killed run not an error");
		const why = (await logRow.locator("td").nth(5).textContent()).toLowerCase();
		check(/kill/.test(why), `error text "${why}" does not say killed`);
		await logRow.locator("[data-action=output]").click();
		const out = await page.locator("#output-text").textContent();
		check(out.includes("started") && !out.includes("never"), `output is "${out.slice(0, 200)}"`);
		await page.keyboard.press("Escape");
		/* The successful task has no failed run. */
		await openProject(PROJECT);
		await taskRow(HELLO).locator("[data-action=logs]").click();
		await heading(`Logs of ${HELLO}`);
		await page.check("#logs-errors-only");
		await until("empty errors-only list", async () => (await page.locator("#logs-box .empty").count()) === 1);
	});

	await step("a run the log list has a preview of shows its whole output from log/detail", async () => {
		/* Three runs of 1000 KiB output, ten days old (after the task's
		 * own runs, outside the dashboard's week): the list carries
		 * previews of them (the first and last 2 KiB); opening one fetches
		 * GET /api/v1/log/detail?id= and shows the run whole. */
		const m = /#\/projects\/(\d+)\/tasks\/([^/?]+)\/logs/.exec(page.url());
		check(m, `not on a logs page: ${page.url()}`);
		const tid = decodeURIComponent(m[2]);
		const line = (i, n) => `run ${i} line ${String(n).padStart(6, "0")} <&>\n`;
		const output = (i) => Array.from({ length: 50000 }, (_, n) => line(i, n)).join("").slice(0, 1000 * 1024);
		const old = Math.floor(Date.now() / 1000) - 10 * 86400;
		for (let i = 0; i < 3; i++) {
			const t = new Date((old + i) * 1000).toISOString();
			const body = {
				execute_info: { task: { task_id: tid, name: HELLO, project_id: PROJECT_ID, command: "big", cron: "* * * * *", client_ip: AGENT_IP },
					plan_time: t, real_time: t },
				output: output(i), error: "", start_time: t, end_time: t, run_id: `e2e-big-${tag}-${i}`,
			};
			const res = await fetch(`${BASE}/api/v1/report`, {
				method: "POST", body: JSON.stringify(body),
				headers: { "Content-Type": "application/json", "Report-Type": "report_task_result", Authorization: `Bearer ${REPORT_TOKEN}` },
			});
			check(res.status === 200, `report ${i}: HTTP ${res.status}`);
		}
		await page.uncheck("#logs-errors-only");
		await until("errors-only off", async () => !page.url().includes("errors=1"));
		const rows = page.locator("#logs-table tbody tr");
		await until("the big runs listed", async () => (await rows.count()) >= 3);
		/* The last row is the oldest big run (run 0): its list row is a
		 * preview, its first line the output's. */
		const peek = await rows.last().locator(".out-peek").textContent();
		check(peek === line(0, 0).trimEnd(), `first line "${peek}"`);
		const detail = page.waitForResponse((r) => r.url().includes("/api/v1/log/detail?"));
		await rows.last().locator("[data-action=output]").click();
		await visible("#dlg-output");
		const res = await detail;
		check(res.status() === 200, `log/detail: HTTP ${res.status()}`);
		const id = new URL(res.url()).searchParams.get("id");
		check(id === await rows.last().getAttribute("data-log-id"), `log/detail of id ${id}`);
		const want = output(0);
		await until("the whole output", async () => ((await page.locator("#output-text").textContent()) || "") === want);
		check(await page.locator("#dlg-output").getAttribute("data-whole") === "1", "the dialog says it has the whole run");
		const size = await text("#output-size");
		check(!/preview|loading/.test(size) && /lines?/.test(size), `size line "${size}"`);
		await shot("log-output-whole");
		await page.keyboard.press("Escape");
	});

	await step("the node list shows the agent's IP and version", async () => {
		await go("#/nodes");
		await heading("Nodes");
		const card = page.locator(`.node-card[data-project-id="${PROJECT_ID}"]`);
		await until("1 healthy node", async () => (await card.locator("[data-node-count]").getAttribute("data-node-count")) === "1");
		const ip = (await card.locator("td").first().textContent()).trim();
		check(ip === AGENT_IP, `node IP "${ip}"`);
		const version = (await card.locator("td").nth(1).textContent()).trim();
		check(version && version !== "—", "no version");
		await shot("nodes");
	});

	await step("the dashboard charts the runs and lists projects with task and node counts", async () => {
		await go("#/");
		await heading("Dashboard");
		await visible(".chart");
		const bars = await page.locator(".chart rect.bar").count();
		check(bars === 14, `${bars} bars for 7 days`);
		const legend = await text(".legend");
		check(/Succeeded: [1-9]/.test(legend) && /Failed: [1-9]/.test(legend), `legend "${legend}"`);
		const row = page.locator(`#dashboard-projects tr[data-project-id="${PROJECT_ID}"]`);
		const cells = await row.locator("td").allTextContents();
		check(cells[1].trim() === "2" && cells[2].trim() === "1", `tasks/nodes ${cells[1]}/${cells[2]}`);
		await shot("dashboard");
	});

	await step("delete a task after confirming", async () => {
		await openProject(PROJECT);
		await taskRow(LONG).locator("[data-action=more] summary").click();
		await taskRow(LONG).locator("[data-action=delete]").click();
		await visible("#dlg-confirm");
		await page.click("#dlg-confirm [data-close]");
		await hidden("#dlg-confirm");
		check(await taskRow(LONG).count() === 1, "cancel deleted the task");
		await taskRow(LONG).locator("[data-action=more] summary").click();
		await taskRow(LONG).locator("[data-action=delete]").click();
		await shot("confirm-delete");
		await page.click("#dlg-confirm-ok");
		await hidden("#dlg-confirm");
		await taskRow(LONG).waitFor({ state: "detached" });
	});

	await step("create a normal user and a project they are not in", async () => {
		await go("#/users");
		await heading("Users");
		await page.click("#btn-new-user");
		await page.fill("#user-name", USER.name);
		await page.fill("#user-account", USER.account);
		/* under 8 characters: said next to the field, nothing sent */
		await page.fill("#user-password", "密码short");
		await page.click("#user-form button[type=submit]");
		await visible('#user-form [data-error-for="password"]');
		const short = await text('#user-form [data-error-for="password"]');
		check(/at least 8 characters/.test(short), `short password message: ${short}`);
		await page.fill("#user-password", USER.password);
		await page.click("#user-form button[type=submit]");
		await hidden("#dlg-user");
		await page.locator(`#users-table tr[data-account="${USER.account}"]`).waitFor();
		await page.click("#btn-new-user");
		await page.fill("#user-name", "Carol");
		await page.fill("#user-account", CAROL);
		await page.fill("#user-password", `carol-pw-${tag}`);
		await page.click("#user-form button[type=submit]");
		await hidden("#dlg-user");
		await page.locator(`#users-table tr[data-account="${CAROL}"]`).waitFor();
		await shot("users");
		await go("#/projects");
		await heading("Projects");
		await page.click("#btn-new-project");
		await page.fill("#project-title", OTHER_PROJECT);
		await page.click("#project-form button[type=submit]");
		await hidden("#dlg-project");
		await page.locator("#projects-table tbody tr", { hasText: OTHER_PROJECT }).waitFor();
	});

	await step("add the user to one project by account; unknown accounts are refused at the field", async () => {
		await go(`#/projects/${PROJECT_ID}/members`);
		await heading(`Members of ${PROJECT}`);
		await page.fill("#member-account", `nobody-${tag}`);
		await page.click("#member-form button[type=submit]");
		await visible('#member-form [data-error-for="account"]');
		await page.fill("#member-account", USER.account);
		await page.click("#member-form button[type=submit]");
		await page.locator("#members-table tbody tr", { hasText: USER.account }).waitFor();
		await page.fill("#member-account", CAROL);
		await page.click("#member-form button[type=submit]");
		const carolRow = page.locator("#members-table tbody tr", { hasText: CAROL });
		await carolRow.waitFor();
		await shot("members");
		await carolRow.locator("button", { hasText: "Remove" }).click();
		await carolRow.waitFor({ state: "detached" });
		await page.locator("#members-table tbody tr", { hasText: USER.account }).waitFor();
	});

	await step("edit a project's remark", async () => {
		await go("#/projects");
		await heading("Projects");
		const row = page.locator(`#projects-table tr[data-project-id="${PROJECT_ID}"]`);
		await row.locator("button", { hasText: "Edit" }).click();
		await visible("#dlg-project");
		check((await page.inputValue("#project-title")) === PROJECT, "title not filled in");
		await page.fill("#project-remark", "invoices, nightly (edited)");
		await page.click("#project-form button[type=submit]");
		await hidden("#dlg-project");
		await until("edited remark", async () => (await row.textContent()).includes("(edited)"));
	});

	await step("the normal user signs in with the keyboard and sees only their projects", async () => {
		await logout();
		await page.fill("#login-account", "");
		await page.focus("#login-account");
		await page.keyboard.type(USER.account);
		await page.keyboard.press("Tab");
		await page.keyboard.type(USER.password);
		await page.keyboard.press("Enter");
		await heading("Dashboard");
		check(await page.locator("#default-pw-banner").isHidden(), "default-password banner shown to a normal user");
		check(await page.locator("#nav [data-nav=users]").isHidden(), "Users shown to a normal user");
		await go("#/projects");
		await heading("Projects");
		/* The table is rendered whole, so once it has a row it has them all. */
		await page.locator("#projects-table tbody tr").first().waitFor();
		const titles = (await page.locator("#projects-table a.strong").allTextContents()).map((t) => t.trim());
		check(titles.length === 1 && titles[0] === PROJECT, `user sees ${JSON.stringify(titles)}`);
		await go("#/");
		await heading("Dashboard");
		await page.locator("#dashboard-projects tbody tr").first().waitFor();
		const onDash = await page.locator("#dashboard-projects tbody tr").count();
		check(onDash === 1, `dashboard lists ${onDash} projects`);
		await shot("user-projects");
		await openProject(PROJECT);
		await taskRow(HELLO).waitFor();
	});

	await step("phone width: tasks become cards, no sideways scrolling, menu opens", async () => {
		await page.setViewportSize({ width: 390, height: 844 });
		await taskRow(HELLO).waitFor();
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		check(overflow <= 1, `page is ${overflow}px wider than the screen`);
		check(await page.locator("#tasks-table thead").isHidden(), "table header still shown");
		await shot("phone-tasks", true);
		await page.click("#menu-toggle");
		await visible("#nav [data-nav=projects]");
		check((await page.getAttribute("#menu-toggle", "aria-expanded")) === "true", "aria-expanded not set");
		await shot("phone-menu");
		await page.click("#menu-toggle");
		await page.setViewportSize({ width: 1280, height: 860 });
	});

	await step("keyboard: dialogs open from buttons, Escape closes them and focus returns", async () => {
		await page.focus("#btn-new-task");
		await page.keyboard.press("Enter");
		await visible("#dlg-task");
		check(await page.evaluate(() => document.activeElement && document.activeElement.id === "task-name"), "focus not in the dialog");
		await page.keyboard.press("Escape");
		await hidden("#dlg-task");
		check(await page.evaluate(() => document.activeElement && document.activeElement.id === "btn-new-task"), "focus did not return");
		const outline = await page.$eval("#btn-new-task", (e) => getComputedStyle(e).outlineStyle);
		check(outline !== "none", "no visible focus outline");
	});

	await step("admin changes the password; the banner goes away", async () => {
		await logout();
		await login("admin", "123456");
		await heading("Dashboard");
		await visible("#default-pw-banner");
		await page.click("#banner-change-password");
		await visible("#dlg-password");
		await page.fill("#pw-old", "wrong-old-password");
		await page.fill("#pw-new", NEW_ADMIN_PW);
		await page.fill("#pw-confirm", NEW_ADMIN_PW);
		await page.click("#password-form button[type=submit]");
		await visible('#password-form [data-error-for="password"]');
		const oldToken = await page.evaluate(() => sessionStorage.getItem("gophercron.token") || localStorage.getItem("gophercron.token"));
		await page.fill("#pw-old", "123456");
		await page.click("#password-form button[type=submit]");
		await hidden("#dlg-password");
		await hidden("#default-pw-banner");
		/* the token used before the change is revoked; the page goes on
		 * with the new one it was handed */
		const oldAnswer = await page.evaluate(async (t) => {
			const r = await fetch("/api/v1/user/info", { headers: { "access-token": t } });
			return (await r.json()).meta;
		}, oldToken);
		check(oldAnswer.code === 401 && /revoked/.test(oldAnswer.msg), `old token: ${JSON.stringify(oldAnswer)}`);
		await go("#/projects");
		await heading("Projects");
		check(await page.locator("#login-form").isHidden(), "signed out by the password change");
		await logout();
		await login("admin", NEW_ADMIN_PW);
		await heading("Dashboard");
		check(await page.locator("#default-pw-banner").isHidden(), "banner back after the change");
	});

	await step("delete a project after confirming", async () => {
		await go("#/projects");
		await heading("Projects");
		const row = page.locator("#projects-table tbody tr", { hasText: OTHER_PROJECT });
		await row.locator("button", { hasText: "Delete" }).click();
		await visible("#dlg-confirm");
		check((await text("#dlg-confirm-text")).includes(OTHER_PROJECT), "confirmation does not name the project");
		await page.click("#dlg-confirm-ok");
		await hidden("#dlg-confirm");
		await row.waitFor({ state: "detached" });
		await page.locator(`#projects-table tr[data-project-id="${PROJECT_ID}"]`).waitFor();
	});

	await step("admin resets the user's password; the user signs in with the new one", async () => {
		await go("#/users");
		await heading("Users");
		const row = page.locator(`#users-table tr[data-account="${USER.account}"]`);
		await row.locator("button", { hasText: "Reset password" }).click();
		await visible("#dlg-reset");
		await page.fill("#reset-password", RESET_PW);
		await page.click("#reset-form button[type=submit]");
		await hidden("#dlg-reset");
		await logout();
		await login(USER.account, USER.password);
		await visible('#login-form [data-error-for="password"]');
		await login(USER.account, RESET_PW);
		await heading("Dashboard");
	});

	await step("an expired or bad token sends the person back to the sign-in form", async () => {
		await page.evaluate(() => {
			for (const s of [localStorage, sessionStorage]) if (s.getItem("gophercron.token")) s.setItem("gophercron.token", "bad.token.value");
		});
		await page.reload();
		await visible("#login-form");
		await visible('#login-form [data-error-for=""]');
	});

	await step("no script errors, and no request left the service's origin", async () => {
		check(pageErrors.length === 0, `errors: ${pageErrors.slice(0, 3).join(" | ")}`);
		check(foreignRequests.length === 0, `requests to ${foreignRequests.slice(0, 3).join(", ")}`);
	});
}

(async () => {
	let crashed = null;
	if (!BASE) crashed = new Error("GC_E2E_BASE is not set (run tests/e2e/admin.sh)");
	else {
		try {
			await main();
		} catch (e) {
			crashed = e;
		}
	}
	if (crashed) {
		results.push(["browser session", false]);
		log(`FAIL - browser session: ${crashed.message}`);
	}
	try {
		if (context) await context.close();
	} catch (e) { /* already gone */ }
	if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
	const passed = results.filter((r) => r[1]).length;
	const failed = results.length - passed;
	log(`screenshots: ${ART}`);
	log(`${passed} passed, ${failed} failed`);
	process.exit(failed || !passed ? 1 : 0);
})();

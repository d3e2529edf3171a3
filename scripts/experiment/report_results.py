"""Tabulates the real-data experiment and draws its plot.

Reads OUT/eval-SITE.json (validation loss of the base model and of each arm)
and writes OUT/results.json, OUT/results.md and OUT/results.svg.

Usage: report_results.py OUT ROUNDS STEPS SITE...
"""
import json
import sys

ARMS = ["base", "local", "federated", "centralised"]
COLORS = {"base": "#999999", "local": "#ff7f0e", "federated": "#2ca02c", "centralised": "#1f77b4"}


def svg_plot(rows, path):
    width, height, left, bottom = 760, 360, 60, 40
    top = max(row[arm]["loss"] for row in rows for arm in ARMS) * 1.1
    group = (width - left - 160) / len(rows)
    bar = group / (len(ARMS) + 1)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'font-family="sans-serif" font-size="12">' % (width, height)]
    parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>' % (
        left, height - bottom, width - 160, height - bottom))
    for tick in range(5):
        value = top * tick / 4
        y = height - bottom - value / top * (height - bottom - 20)
        parts.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>' % (left - 6, y + 4, value))
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (
            left, y, width - 160, y))
    for g, row in enumerate(rows):
        x0 = left + g * group + bar / 2
        for a, arm in enumerate(ARMS):
            value = row[arm]["loss"]
            h = value / top * (height - bottom - 20)
            parts.append('<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                         '<title>%s %s: %.4f</title></rect>' % (
                             arm, x0 + a * bar, height - bottom - h, bar * 0.9, h, COLORS[arm],
                             row["site"], arm, value))
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (
            x0 + group / 2 - bar / 2, height - bottom + 16, row["site"]))
    for a, arm in enumerate(ARMS):
        parts.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>'
                     '<text x="%d" y="%d">%s</text>' % (
                         width - 145, 30 + 20 * a, COLORS[arm], width - 128, 41 + 20 * a, arm))
    parts.append('<text x="%d" y="14">validation loss per site (lower is better)</text>' % left)
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts) + "\n")


def main():
    out, rounds, steps, sites = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    rows = [json.load(open("%s/eval-%s.json" % (out, site))) for site in sites]
    mean = {arm: sum(row[arm]["loss"] for row in rows) / len(rows) for arm in ARMS}
    lines = ["| site | base model | local only | federated | centralised |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append("| %s | %s |" % (row["site"], " | ".join(
            "%.4f" % row[arm]["loss"] for arm in ARMS)))
    lines.append("| **mean** | %s |" % " | ".join("**%.4f**" % mean[arm] for arm in ARMS))
    gap = mean["federated"] - mean["centralised"]
    summary = [
        "",
        "Validation loss on each site's held-out records (mean cross-entropy per trained token).",
        "Budget: %d optimizer steps per site (local: alone; federated: %d rounds of %d steps);"
        " centralised: %d steps on the pooled records." % (
            rounds * steps, rounds, steps, rounds * steps * len(sites)),
        "Federated mean %.4f vs local-only mean %.4f: %s by %.4f." % (
            mean["federated"], mean["local"],
            "lower" if mean["federated"] < mean["local"] else "NOT lower",
            abs(mean["local"] - mean["federated"])),
        "Gap to centralised: federated mean is %.4f %s the centralised mean %.4f." % (
            abs(gap), "above" if gap > 0 else "below", mean["centralised"]),
    ]
    text = "\n".join(lines + summary) + "\n"
    open(out + "/results.md", "w").write(text)
    json.dump({"sites": rows, "mean": mean, "rounds": rounds, "local_steps": steps},
              open(out + "/results.json", "w"), indent=1)
    svg_plot(rows, out + "/results.svg")
    print(text)


if __name__ == "__main__":
    main()

package app

import (
	"bytes"
	"fmt"
	"image/color"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"enrollstation/enroll"
)

// dashboard shows the station's figures as four charts rendered with gonum/plot.
type dashboard struct {
	sh      *shell
	content fyne.CanvasObject
	stats   *enroll.Stats
	charts  map[string][]byte // chart title → PNG, for tests

	refreshBtn   *widget.Button
	reasonLegend *widget.Label // names the rejection reasons' numbered bars (nil: none)
}

// dashboardDays is how many days the per-day chart covers.
const dashboardDays = 14

func newDashboard(sh *shell) *dashboard {
	d := &dashboard{sh: sh, charts: map[string][]byte{}}
	box := container.NewStack()
	d.content = box
	d.reload()
	sh.onOpen(d.content, d.reload)
	sh.emit("dashboard", d)
	return d
}

// reload reads the figures again and redraws the charts in place (the tab stays open).
func (d *dashboard) reload() {
	box := d.content.(*fyne.Container)
	box.Objects = []fyne.CanvasObject{d.build()}
	box.Refresh()
}

// build makes the dashboard's content from fresh figures.
func (d *dashboard) build() fyne.CanvasObject {
	sh := d.sh
	d.charts = map[string][]byte{}
	d.reasonLegend = nil
	st, err := enroll.Dashboard(sh.station, sh.now(), dashboardDays)
	if err != nil {
		return widget.NewLabel(errText(err))
	}
	d.stats = st

	var days []string
	for _, t := range st.Days {
		days = append(days, t.Format("01-02"))
	}
	clerks := st.Clerks()
	perClerk := make([]float64, len(clerks))
	for i, c := range clerks {
		perClerk[i] = float64(st.PerClerk[c])
	}
	reasons := make([]string, 0, len(st.RejectReasons))
	for r := range st.RejectReasons {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	perReason := make([]float64, len(reasons))
	for i, r := range reasons {
		perReason[i] = float64(st.RejectReasons[r])
	}
	bins := []string{"0-49", "50-59", "60-69", "70-79", "80-89", "90-100"}
	perBin := make([]float64, len(bins))
	for _, s := range st.Scores {
		i := 0
		if s >= 50 {
			i = min((s-40)/10, len(bins)-1)
		}
		perBin[i]++
	}

	// The chart's font has no Chinese, and reason codes are not words for the screen: the
	// bars are numbered and a legend below names each reason in the screen language.
	reasonNos := make([]string, len(reasons))
	legend := make([]string, len(reasons))
	for i, r := range reasons {
		reasonNos[i] = fmt.Sprint(i + 1)
		legend[i] = fmt.Sprintf("%d  %s", i+1, rejectReasonLabel(r))
	}
	var reasonChart fyne.CanvasObject = d.chart(tr("Rejection reasons"), reasonNos, perReason)
	if len(reasons) > 0 {
		l := widget.NewLabel(strings.Join(legend, "   "))
		l.Wrapping = fyne.TextWrapWord
		d.reasonLegend = l
		reasonChart = container.NewBorder(nil, l, nil, nil, reasonChart)
	}
	grid := container.NewGridWithColumns(2,
		d.chart(tr("Enrollments per day"), days, intsToFloats(st.PerDay)),
		d.chart(tr("Enrollments per clerk"), clerks, perClerk),
		reasonChart,
		d.chart(tr("Quality scores"), bins, perBin),
	)
	head := widget.NewLabelWithStyle(tr("%d enrollments on this station", st.Total), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	refresh := widget.NewButtonWithIcon(tr("Refresh"), theme.ViewRefreshIcon(), d.reload)
	d.refreshBtn = refresh
	return container.NewBorder(container.NewHBox(head, layout.NewSpacer(), refresh), nil, nil, nil, grid)
}

func intsToFloats(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// chart renders a bar chart to PNG and shows it; an empty series shows a note instead.
func (d *dashboard) chart(title string, labels []string, values []float64) fyne.CanvasObject {
	if len(values) == 0 {
		return widget.NewCard(title, "", container.NewCenter(widget.NewLabel(tr("No data yet."))))
	}
	// The title is a Fyne label rather than part of the picture: the plot's own fonts
	// have no Chinese glyphs, and the axes carry only digits and ASCII codes.
	png, err := barChartPNG(labels, values, 6.4, 2.8)
	head := widget.NewLabelWithStyle(title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	if err != nil {
		return container.NewBorder(head, nil, nil, nil, widget.NewLabel(err.Error()))
	}
	d.charts[title] = png
	img := canvas.NewImageFromReader(bytes.NewReader(png), "chart.png")
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSize(320, 140))
	return container.NewBorder(head, nil, nil, nil, img)
}

// barChartPNG draws a bar chart with gonum/plot and encodes it as PNG (w×h inches).
func barChartPNG(labels []string, values []float64, w, h float64) ([]byte, error) {
	p := plot.New()
	p.Y.Min = 0
	// Bars take about 60% of each category's slot, at most 60 pt wide; the X range is
	// padded by half a slot so the outer bars are not cut.
	n := float64(len(values))
	bars, err := plotter.NewBarChart(plotter.Values(values), vg.Points(min(60, 0.6*(w*72-60)/n)))
	if err != nil {
		return nil, fmt.Errorf("dashboard: chart: %w", err)
	}
	bars.Color = color.RGBA{R: 0x1f, G: 0x6f, B: 0xb5, A: 0xff}
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.5, n-0.5
	p.X.Tick.Label.Font.Size = vg.Points(8)
	wt, err := p.WriterTo(vg.Length(w)*vg.Inch, vg.Length(h)*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("dashboard: chart: %w", err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("dashboard: chart: %w", err)
	}
	return buf.Bytes(), nil
}

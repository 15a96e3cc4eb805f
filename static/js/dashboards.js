// Draws the dashboard charts from the JSON in #dashboard-charts. Every chart's numbers are
// also in a table on the page, so nothing here is the only way to read a figure.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-charts");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var specs = JSON.parse(source.textContent);
  // Distinguishable in greyscale and for common colour-vision differences (Okabe-Ito).
  var colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
  var dashes = [[], [6, 4], [2, 3], [10, 3, 2, 3]];

  specs.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) {
      return;
    }
    var datasets = spec.datasets.map(function (dataset, index) {
      var colour = colours[dataset.dashed ? 0 : index % colours.length];
      return {
        label: dataset.label,
        data: dataset.data,
        borderColor: colour,
        backgroundColor: colour,
        borderDash: dataset.dashed ? [6, 4] : dashes[index % dashes.length],
        borderWidth: dataset.dashed ? 1 : 2,
        pointRadius: spec.type === "scatter" ? 4 : 3,
        pointStyle: ["circle", "rect", "triangle", "rectRot"][index % 4],
        spanGaps: true,
        fill: false
      };
    });
    var scales = {
      x: { title: { display: !!spec.x_title, text: spec.x_title || "" } },
      y: { title: { display: !!spec.y_title, text: spec.y_title || "" } }
    };
    if (spec.type === "scatter") {
      scales.x.type = "linear";
      scales.x.beginAtZero = true;
    }
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels || [], datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: 2.5,
        animation: false,
        scales: scales,
        plugins: { legend: { display: true, position: "bottom" } }
      }
    });
  });
})();

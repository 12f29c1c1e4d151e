# The growth chart of docs/performance.md, drawn from bench/run.sh's growth table:
#   gnuplot -e "data='growth.tsv'; out='perf-growth.png'" bench/growth.gp
# Columns: instances, registry RSS kB, gateway RSS kB, LMDB bytes, list p50/p99 us of a
# 10-instance service, instances of a grown service, its list p50/p99 us, healthcheck and
# pusher RSS kB.
set terminal pngcairo size 960,540 font "sans,10"
set output out
set datafile separator "\t"
set title "Cairn: memory and instance/list latency as registered instances grow (1 000 services)"
set logscale x 10
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
set format x "%.0s%c"
set xlabel "registered instances"
set ylabel "RSS (MB)"
set y2label "list latency, p50 (ms)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key top left
set grid xtics ytics
plot data using 1:($2/1024) with linespoints lw 2 pt 7 title "registry RSS", \
     data using 1:($3/1024) with linespoints lw 2 pt 7 title "gateway RSS", \
     data using 1:($10/1024) with linespoints lw 2 pt 7 title "healthcheck RSS", \
     data using 1:($4/1048576) with linespoints lw 1 dt 2 pt 6 title "LMDB used", \
     data using 1:($5/1000) axes x1y2 with linespoints lw 2 pt 5 title "list, 10-instance service (right)", \
     data using 1:($8/1000) axes x1y2 with linespoints lw 2 pt 9 title "list, one of the 1 000 services: N/1000 instances (right)"

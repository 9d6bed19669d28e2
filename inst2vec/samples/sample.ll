; ModuleID = 'sample.c'
source_filename = "sample.c"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

%struct.node = type { i32, %struct.node* }

@.str = private unnamed_addr constant [5 x i8] c"many\00", align 1
@__const.main.c = private unnamed_addr constant %struct.node { i32 3, %struct.node* null }, align 8
@.str.1 = private unnamed_addr constant [10 x i8] c"%s %d %f\0A\00", align 1
@.str.2 = private unnamed_addr constant [5 x i8] c"zero\00", align 1
@.str.3 = private unnamed_addr constant [4 x i8] c"one\00", align 1
@.str.4 = private unnamed_addr constant [4 x i8] c"two\00", align 1
@switch.table.main = private unnamed_addr constant [3 x i8*] [i8* getelementptr inbounds ([5 x i8], [5 x i8]* @.str.2, i64 0, i64 0), i8* getelementptr inbounds ([4 x i8], [4 x i8]* @.str.3, i64 0, i64 0), i8* getelementptr inbounds ([4 x i8], [4 x i8]* @.str.4, i64 0, i64 0)], align 8

; Function Attrs: mustprogress nofree nosync nounwind readnone uwtable willreturn
define dso_local float @norm2(<2 x float> %p.coerce) local_unnamed_addr #0 {
entry:
  %p.sroa.0.0.vec.extract = extractelement <2 x float> %p.coerce, i64 0
  %0 = fmul <2 x float> %p.coerce, %p.coerce
  %mul3 = extractelement <2 x float> %0, i64 1
  %1 = call float @llvm.fmuladd.f32(float %p.sroa.0.0.vec.extract, float %p.sroa.0.0.vec.extract, float %mul3)
  ret float %1
}

; Function Attrs: mustprogress nofree nosync nounwind readnone speculatable willreturn
declare float @llvm.fmuladd.f32(float, float, float) #1

; Function Attrs: nofree norecurse nosync nounwind readonly uwtable
define dso_local i32 @sum_list(%struct.node* noundef readonly %head) local_unnamed_addr #2 {
entry:
  %cmp.not6 = icmp eq %struct.node* %head, null
  br i1 %cmp.not6, label %for.cond.cleanup, label %for.body

for.cond.cleanup:                                 ; preds = %for.body, %entry
  %total.0.lcssa = phi i32 [ 0, %entry ], [ %add, %for.body ]
  ret i32 %total.0.lcssa

for.body:                                         ; preds = %entry, %for.body
  %n.08 = phi %struct.node* [ %1, %for.body ], [ %head, %entry ]
  %total.07 = phi i32 [ %add, %for.body ], [ 0, %entry ]
  %value = getelementptr inbounds %struct.node, %struct.node* %n.08, i64 0, i32 0
  %0 = load i32, i32* %value, align 8, !tbaa !5
  %add = add nsw i32 %0, %total.07
  %next = getelementptr inbounds %struct.node, %struct.node* %n.08, i64 0, i32 1
  %1 = load %struct.node*, %struct.node** %next, align 8, !tbaa !11
  %cmp.not = icmp eq %struct.node* %1, null
  br i1 %cmp.not, label %for.cond.cleanup, label %for.body, !llvm.loop !12
}

; Function Attrs: argmemonly mustprogress nofree nosync nounwind willreturn
declare void @llvm.lifetime.start.p0i8(i64 immarg, i8* nocapture) #3

; Function Attrs: argmemonly mustprogress nofree nosync nounwind willreturn
declare void @llvm.lifetime.end.p0i8(i64 immarg, i8* nocapture) #3

; Function Attrs: mustprogress nofree norecurse nosync nounwind readnone uwtable willreturn
define dso_local i8* @classify(i32 noundef %k) local_unnamed_addr #4 {
entry:
  %0 = icmp ult i32 %k, 3
  br i1 %0, label %switch.lookup, label %return

switch.lookup:                                    ; preds = %entry
  %1 = sext i32 %k to i64
  %switch.gep = getelementptr inbounds [3 x i8*], [3 x i8*]* @switch.table.main, i64 0, i64 %1
  %switch.load = load i8*, i8** %switch.gep, align 8
  br label %return

return:                                           ; preds = %entry, %switch.lookup
  %retval.0 = phi i8* [ %switch.load, %switch.lookup ], [ getelementptr inbounds ([5 x i8], [5 x i8]* @.str, i64 0, i64 0), %entry ]
  ret i8* %retval.0
}

; Function Attrs: nofree nounwind uwtable
define dso_local i32 @main(i32 noundef %argc, i8** nocapture noundef readonly %argv) local_unnamed_addr #5 {
entry:
  %c = alloca %struct.node, align 8
  %b = alloca %struct.node, align 8
  %a.sroa.0 = alloca i32, align 8
  %a.sroa.417 = alloca %struct.node*, align 8
  %0 = bitcast %struct.node* %c to i8*
  call void @llvm.lifetime.start.p0i8(i64 16, i8* nonnull %0) #9
  call void @llvm.memcpy.p0i8.p0i8.i64(i8* noundef nonnull align 8 dereferenceable(16) %0, i8* noundef nonnull align 8 dereferenceable(16) bitcast (%struct.node* @__const.main.c to i8*), i64 16, i1 false)
  %1 = bitcast %struct.node* %b to i8*
  call void @llvm.lifetime.start.p0i8(i64 16, i8* nonnull %1) #9
  %value = getelementptr inbounds %struct.node, %struct.node* %b, i64 0, i32 0
  store i32 2, i32* %value, align 8, !tbaa !5
  %next = getelementptr inbounds %struct.node, %struct.node* %b, i64 0, i32 1
  store %struct.node* %c, %struct.node** %next, align 8, !tbaa !11
  %a.sroa.0.0.sroa_cast = bitcast i32* %a.sroa.0 to i8*
  call void @llvm.lifetime.start.p0i8(i64 4, i8* nonnull %a.sroa.0.0.sroa_cast)
  %a.sroa.417.0.sroa_cast = bitcast %struct.node** %a.sroa.417 to i8*
  call void @llvm.lifetime.start.p0i8(i64 8, i8* nonnull %a.sroa.417.0.sroa_cast)
  store i32 1, i32* %a.sroa.0, align 8, !tbaa !5
  store %struct.node* %b, %struct.node** %a.sroa.417, align 8, !tbaa !11
  %cmp = icmp sgt i32 %argc, 1
  br i1 %cmp, label %cond.true, label %cond.end

cond.true:                                        ; preds = %entry
  %arrayidx = getelementptr inbounds i8*, i8** %argv, i64 1
  %2 = load i8*, i8** %arrayidx, align 8, !tbaa !15
  %call.i = call double @strtod(i8* nocapture noundef nonnull %2, i8** noundef null) #9
  %phi.cast = fptrunc double %call.i to float
  %phi.bo = fmul float %phi.cast, 2.500000e+01
  %phi.cast23 = fpext float %phi.bo to double
  br label %cond.end

cond.end:                                         ; preds = %entry, %cond.true
  %cond = phi double [ %phi.cast23, %cond.true ], [ 1.250000e+01, %entry ]
  %3 = icmp ult i32 %argc, 3
  br i1 %3, label %switch.lookup, label %classify.exit

switch.lookup:                                    ; preds = %cond.end
  %4 = sext i32 %argc to i64
  %switch.gep = getelementptr inbounds [3 x i8*], [3 x i8*]* @switch.table.main, i64 0, i64 %4
  %switch.load = load i8*, i8** %switch.gep, align 8
  br label %classify.exit

classify.exit:                                    ; preds = %cond.end, %switch.lookup
  %retval.0.i = phi i8* [ %switch.load, %switch.lookup ], [ getelementptr inbounds ([5 x i8], [5 x i8]* @.str, i64 0, i64 0), %cond.end ]
  br label %for.body.i

for.body.i:                                       ; preds = %for.body.i, %classify.exit
  %total.07.i = phi i32 [ %add.i, %for.body.i ], [ 0, %classify.exit ]
  %n.08.i.sroa.phi = phi i32* [ %.sroa.gep, %for.body.i ], [ %a.sroa.0, %classify.exit ]
  %n.08.i.sroa.phi12 = phi %struct.node** [ %.sroa.gep13, %for.body.i ], [ %a.sroa.417, %classify.exit ]
  %5 = load i32, i32* %n.08.i.sroa.phi, align 8, !tbaa !5
  %add.i = add nsw i32 %5, %total.07.i
  %6 = load %struct.node*, %struct.node** %n.08.i.sroa.phi12, align 8, !tbaa !11
  %.sroa.gep13 = getelementptr inbounds %struct.node, %struct.node* %6, i64 0, i32 1
  %.sroa.gep = getelementptr inbounds %struct.node, %struct.node* %6, i64 0, i32 0
  %cmp.not.i = icmp eq %struct.node* %6, null
  br i1 %cmp.not.i, label %sum_list.exit, label %for.body.i, !llvm.loop !12

sum_list.exit:                                    ; preds = %for.body.i
  %call7 = call i32 (i8*, ...) @printf(i8* noundef nonnull dereferenceable(1) getelementptr inbounds ([10 x i8], [10 x i8]* @.str.1, i64 0, i64 0), i8* noundef %retval.0.i, i32 noundef %add.i, double noundef %cond)
  %a.sroa.0.0.sroa_cast25 = bitcast i32* %a.sroa.0 to i8*
  call void @llvm.lifetime.end.p0i8(i64 4, i8* nonnull %a.sroa.0.0.sroa_cast25)
  %a.sroa.417.0.sroa_cast24 = bitcast %struct.node** %a.sroa.417 to i8*
  call void @llvm.lifetime.end.p0i8(i64 8, i8* nonnull %a.sroa.417.0.sroa_cast24)
  call void @llvm.lifetime.end.p0i8(i64 16, i8* nonnull %1) #9
  call void @llvm.lifetime.end.p0i8(i64 16, i8* nonnull %0) #9
  ret i32 0
}

; Function Attrs: argmemonly mustprogress nofree nounwind willreturn
declare void @llvm.memcpy.p0i8.p0i8.i64(i8* noalias nocapture writeonly, i8* noalias nocapture readonly, i64, i1 immarg) #6

; Function Attrs: nofree nounwind
declare noundef i32 @printf(i8* nocapture noundef readonly, ...) local_unnamed_addr #7

; Function Attrs: mustprogress nofree nounwind willreturn
declare double @strtod(i8* noundef readonly, i8** nocapture noundef) local_unnamed_addr #8

attributes #0 = { mustprogress nofree nosync nounwind readnone uwtable willreturn "frame-pointer"="none" "min-legal-vector-width"="64" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #1 = { mustprogress nofree nosync nounwind readnone speculatable willreturn }
attributes #2 = { nofree norecurse nosync nounwind readonly uwtable "frame-pointer"="none" "min-legal-vector-width"="0" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #3 = { argmemonly mustprogress nofree nosync nounwind willreturn }
attributes #4 = { mustprogress nofree norecurse nosync nounwind readnone uwtable willreturn "frame-pointer"="none" "min-legal-vector-width"="0" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #5 = { nofree nounwind uwtable "frame-pointer"="none" "min-legal-vector-width"="64" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #6 = { argmemonly mustprogress nofree nounwind willreturn }
attributes #7 = { nofree nounwind "frame-pointer"="none" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #8 = { mustprogress nofree nounwind willreturn "frame-pointer"="none" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #9 = { nounwind }

!llvm.module.flags = !{!0, !1, !2, !3}
!llvm.ident = !{!4}

!0 = !{i32 1, !"wchar_size", i32 4}
!1 = !{i32 7, !"PIC Level", i32 2}
!2 = !{i32 7, !"PIE Level", i32 2}
!3 = !{i32 7, !"uwtable", i32 1}
!4 = !{!"Debian clang version 14.0.6"}
!5 = !{!6, !7, i64 0}
!6 = !{!"node", !7, i64 0, !10, i64 8}
!7 = !{!"int", !8, i64 0}
!8 = !{!"omnipotent char", !9, i64 0}
!9 = !{!"Simple C/C++ TBAA"}
!10 = !{!"any pointer", !8, i64 0}
!11 = !{!6, !10, i64 8}
!12 = distinct !{!12, !13, !14}
!13 = !{!"llvm.loop.mustprogress"}
!14 = !{!"llvm.loop.unroll.disable"}
!15 = !{!10, !10, i64 0}

/*
 * Prints the offsets and sizes of the libibverbs / librdmacm structures that
 * src/Transport/Rdma/Native/*Layout.cs declares, for the installed rdma-core.
 * NativeLayoutTests.cs pins the values this printed for rdma-core 44.0
 * (Debian 12, x86_64). Re-run after an rdma-core upgrade:
 *
 *   apt-get install -y libibverbs-dev librdmacm-dev
 *   gcc -o /tmp/layout-probe layout-probe.c && /tmp/layout-probe
 *
 * Not built by the test project (the -dev headers are not a runtime need).
 */
#include <stdio.h>
#include <stddef.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#define O(s,f) printf("%-22s %-20s off %3zu size %zu\n", #s, #f, offsetof(struct s,f), sizeof(((struct s*)0)->f))
#define S(s) printf("%-22s sizeof %zu\n", #s, sizeof(struct s))
int main(){
 S(ibv_context_ops); O(ibv_context_ops,poll_cq); O(ibv_context_ops,req_notify_cq); O(ibv_context_ops,post_send); O(ibv_context_ops,post_recv);
 S(ibv_context); O(ibv_context,device); O(ibv_context,ops); O(ibv_context,cmd_fd); O(ibv_context,async_fd);O(ibv_context,num_comp_vectors);
 S(ibv_sge); O(ibv_sge,addr);O(ibv_sge,length);O(ibv_sge,lkey);
 S(ibv_send_wr); O(ibv_send_wr,wr_id);O(ibv_send_wr,next);O(ibv_send_wr,sg_list);O(ibv_send_wr,num_sge);O(ibv_send_wr,opcode);O(ibv_send_wr,send_flags);O(ibv_send_wr,imm_data);O(ibv_send_wr,wr);O(ibv_send_wr,qp_type);
 S(ibv_recv_wr); O(ibv_recv_wr,wr_id);O(ibv_recv_wr,next);O(ibv_recv_wr,sg_list);O(ibv_recv_wr,num_sge);
 S(ibv_wc); O(ibv_wc,wr_id);O(ibv_wc,status);O(ibv_wc,opcode);O(ibv_wc,vendor_err);O(ibv_wc,byte_len);O(ibv_wc,imm_data);O(ibv_wc,qp_num);O(ibv_wc,src_qp);O(ibv_wc,wc_flags);O(ibv_wc,pkey_index);O(ibv_wc,slid);O(ibv_wc,sl);O(ibv_wc,dlid_path_bits);
 S(ibv_mr); O(ibv_mr,context);O(ibv_mr,pd);O(ibv_mr,addr);O(ibv_mr,length);O(ibv_mr,handle);O(ibv_mr,lkey);O(ibv_mr,rkey);
 S(ibv_cq); O(ibv_cq,context);O(ibv_cq,channel);O(ibv_cq,cq_context);O(ibv_cq,handle);O(ibv_cq,cqe);
 S(ibv_qp); O(ibv_qp,context);O(ibv_qp,qp_context);O(ibv_qp,pd);O(ibv_qp,send_cq);O(ibv_qp,recv_cq);O(ibv_qp,srq);O(ibv_qp,handle);O(ibv_qp,qp_num);O(ibv_qp,state);O(ibv_qp,qp_type);
 S(ibv_comp_channel); O(ibv_comp_channel,context);O(ibv_comp_channel,fd);O(ibv_comp_channel,refcnt);
 S(ibv_qp_cap); S(ibv_qp_init_attr); O(ibv_qp_init_attr,qp_context);O(ibv_qp_init_attr,send_cq);O(ibv_qp_init_attr,recv_cq);O(ibv_qp_init_attr,srq);O(ibv_qp_init_attr,cap);O(ibv_qp_init_attr,qp_type);O(ibv_qp_init_attr,sq_sig_all);
 O(ibv_qp_cap,max_send_wr);O(ibv_qp_cap,max_recv_wr);O(ibv_qp_cap,max_send_sge);O(ibv_qp_cap,max_recv_sge);O(ibv_qp_cap,max_inline_data);
 S(ibv_device); 
 S(rdma_cm_id); O(rdma_cm_id,verbs);O(rdma_cm_id,channel);O(rdma_cm_id,context);O(rdma_cm_id,qp);O(rdma_cm_id,route);O(rdma_cm_id,ps);O(rdma_cm_id,port_num);O(rdma_cm_id,event);O(rdma_cm_id,pd);O(rdma_cm_id,qp_type);
 S(rdma_cm_event); O(rdma_cm_event,id);O(rdma_cm_event,listen_id);O(rdma_cm_event,event);O(rdma_cm_event,status);O(rdma_cm_event,param);
 S(rdma_conn_param); O(rdma_conn_param,private_data);O(rdma_conn_param,private_data_len);O(rdma_conn_param,responder_resources);O(rdma_conn_param,initiator_depth);O(rdma_conn_param,flow_control);O(rdma_conn_param,retry_count);O(rdma_conn_param,rnr_retry_count);O(rdma_conn_param,srq);O(rdma_conn_param,qp_num);
 S(rdma_event_channel);
 printf("IBV_WR_SEND_WITH_IMM=%d IBV_WR_SEND=%d IBV_SEND_SIGNALED=%d IBV_WC_SEND=%d IBV_WC_RECV=%d IBV_WC_WITH_IMM=%d IBV_QPT_RC=%d IBV_ACCESS_LOCAL_WRITE=%d IBV_WC_WR_FLUSH_ERR=%d IBV_WC_RNR_RETRY_EXC_ERR=%d IBV_WC_RETRY_EXC_ERR=%d\n",
   IBV_WR_SEND_WITH_IMM, IBV_WR_SEND, IBV_SEND_SIGNALED, IBV_WC_SEND, IBV_WC_RECV, IBV_WC_WITH_IMM, IBV_QPT_RC, IBV_ACCESS_LOCAL_WRITE, IBV_WC_WR_FLUSH_ERR, IBV_WC_RNR_RETRY_EXC_ERR, IBV_WC_RETRY_EXC_ERR);
 return 0;}
